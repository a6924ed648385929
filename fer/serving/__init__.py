"""Models and serving, without TensorFlow: the installed models and their cards (registry,
card), loading a serving file once per process (models) and running it on LiteRT (runtime),
test-time augmentation (tta), the card's temperature (temperature), and the shared Analyzer
that detects and classifies (analyzer)."""
