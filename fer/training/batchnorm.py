"""Precise batch-norm statistics (Wu & Johnson, "Rethinking Batch in BatchNorm", 2021).

Training leaves each BatchNormalization layer with a moving average of *augmented* batches:
erased patches, shifts, blended faces, and dropout upstream of the head's batch norm. The
network then meets clean, centred faces without dropout. Re-estimating the statistics on the
clean training images, with dropout off, gives the network the statistics of what it will see,
with no change to a single weight; on FER2013 that is worth about a point.
"""

from __future__ import annotations

import numpy as np


def _layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def recalibrate_batch_norm(
    model, images: np.ndarray, batch_size: int = 256, seed: int | None = 0
) -> int:
    """Replace every BatchNormalization layer's moving mean and variance (nested models
    included) by their average over ``images`` in batches, drawn in a seeded random order
    (``seed`` None: as given); returns how many layers changed.

    Random batches matter: a dataset stored class by class would give batches of one class,
    whose variances miss the spread between classes."""
    import keras

    if seed is not None:
        images = images[np.random.default_rng(seed).permutation(len(images))]

    layers = list(_layers(model))
    norms = [ly for ly in layers if isinstance(ly, keras.layers.BatchNormalization)]
    dropouts = [ly for ly in layers if isinstance(ly, keras.layers.Dropout)]
    if not norms or len(images) == 0:
        return 0
    saved_momentum = [n.momentum for n in norms]
    saved_rates = [d.rate for d in dropouts]
    try:
        for d in dropouts:
            d.rate = 0.0
        for k, start in enumerate(range(0, len(images), batch_size)):
            for n in norms:
                n.momentum = k / (k + 1)  # running mean over the batches so far
            model(images[start : start + batch_size], training=True)
    finally:
        for n, m in zip(norms, saved_momentum):
            n.momentum = m
        for d, r in zip(dropouts, saved_rates):
            d.rate = r
    return len(norms)


PRECISE_BN_NOTE = "batch-norm statistics re-estimated on "


def precise_bn_note(n_images: int) -> str:
    return (
        f"{PRECISE_BN_NOTE}{n_images} clean training images with dropout off "
        "(fer.batchnorm, PreciseBN)"
    )


def recalibrate_on_training_split(model, data) -> int:
    """Precise batch-norm statistics for ``model`` from the clean images of ``data``'s
    training split, preprocessed as served; returns how many images were used."""
    from ..quality.dataset import load_split
    from ..vision.preprocessing import to_model_input

    train = load_split(data, "train")
    recalibrate_batch_norm(model, to_model_input(train.images, int(model.input_shape[1])))
    return len(train)


def recalibrate_model_file(
    path, data, out=None, speed_seconds: float = 2.0, quantization: str = "auto"
) -> dict | None:
    """Recalibrate the model saved at ``path`` on the training split of ``data``, save it to
    ``out`` (default: in place) with its serving file, and refresh the measured part of its
    card, if it has one (noting the step and its command); returns the card."""
    import os
    import shutil
    from pathlib import Path

    import keras

    from .model_card import refresh_card
    from .tf_runtime import import_tensorflow

    import_tensorflow()
    path = Path(path)
    out = Path(out) if out else path
    model = keras.models.load_model(path, compile=False)
    n_images = recalibrate_on_training_split(model, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, out)
    if out != path and path.with_suffix(".json").exists():
        shutil.copyfile(path.with_suffix(".json"), out.with_suffix(".json"))
    command = f"python -m fer precise-bn {path}" + (f" --out {out}" if out != path else "")
    return refresh_card(
        model,
        out,
        data,
        speed_seconds,
        quantization,
        note=precise_bn_note(n_images),
        command=command,
    )
