"""Everything that needs TensorFlow and Keras: training, model cards, ensembles, precise batch
norm, the serving-file export and Grad-CAM explanations.

Serving (:mod:`fer.serving.runtime`, :class:`fer.Analyzer`, the pages, the CLI's ``predict``,
``video`` and ``evaluate``) never imports this package; ``tests/test_serving_imports.py`` holds that
line.
"""

from .trainer import TrainConfig, train, write_card_from_checkpoint

__all__ = ["TrainConfig", "train", "write_card_from_checkpoint"]
