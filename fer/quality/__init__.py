"""Quality: the FER2013 and FER+ datasets, accuracy and per-class F1 (evaluation), accuracy under
shifts (robustness), fitting the temperature (calibration), speed, and the CLI's evaluate,
robustness and calibrate commands that write them into a model's card (commands, cardfile)."""
