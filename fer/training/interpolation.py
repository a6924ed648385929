"""Weight-space interpolation between a model and its fine-tune (WiSE-FT: Wortsman et al.,
"Robust fine-tuning of zero-shot models", CVPR 2022).

A fine-tune on FER+'s votes gains on FER+ and loses faces from other datasets (posed
expressions, docs/figures.md). A network fine-tuned from another stays in the same basin of the
loss, so the straight line between their weights is a family of models that trade one for the
other; its middle often keeps most of the fine-tune's gain and most of the original's
behaviour on shifted data, at no cost per face: it is one network of the same size.

Batch-norm statistics do not interpolate (the variance of a mixed network is not the mix of
the variances), so they are re-estimated on the clean training images afterwards
(:mod:`fer.training.batchnorm`).
"""

from __future__ import annotations

import json
from pathlib import Path


def interpolate_weights(base, tuned, alpha: float):
    """Set ``base``'s weights to ``(1 - alpha) * base + alpha * tuned`` and return it.

    ``tuned`` must have the same architecture (the same weights, in the same order, of the
    same shapes), as a fine-tune of ``base`` has; otherwise ValueError."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    ours, theirs = base.weights, tuned.weights
    if len(ours) != len(theirs) or any(a.shape != b.shape for a, b in zip(ours, theirs)):
        raise ValueError("the two models do not have the same architecture")
    mixed = [(1.0 - alpha) * a.numpy() + alpha * b.numpy() for a, b in zip(ours, theirs)]
    base.set_weights(mixed)
    return base


def interpolation_note(base: str, tuned: str, alpha: float) -> str:
    return (
        f"weights {1 - alpha:g} x {base} + {alpha:g} x {tuned} (WiSE-FT weight interpolation, "
        "fer.training.interpolation)"
    )


def write_interpolation(
    base_path: str | Path,
    tuned_path: str | Path,
    alpha: float,
    out: str | Path,
    name: str,
    data: str | Path,
    speed_seconds: float = 2.0,
    quantization: str = "auto",
) -> dict:
    """Write ``<out>/<name>.keras``, interpolated ``alpha`` of the way from ``base_path`` to
    ``tuned_path``, with precise batch-norm statistics on ``data``'s training split, its
    serving file and a card: the fine-tune's card (how it was trained) with the step noted and
    the measured part re-measured."""
    import keras

    from .batchnorm import precise_bn_note, recalibrate_on_training_split
    from .model_card import refresh_card
    from .tf_runtime import import_tensorflow

    import_tensorflow()
    base_path, tuned_path, out = Path(base_path), Path(tuned_path), Path(out)
    model = keras.models.load_model(base_path, compile=False)
    tuned = keras.models.load_model(tuned_path, compile=False)
    interpolate_weights(model, tuned, alpha)
    n_images = recalibrate_on_training_split(model, data)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / f"{name}.keras"
    model.save(model_path)
    tuned_card = tuned_path.with_suffix(".json")
    card = json.loads(tuned_card.read_text()) if tuned_card.exists() else {"training": {}}
    model_path.with_suffix(".json").write_text(json.dumps({**card, "name": name}, indent=1))
    command = (
        f"python -m fer interpolate {base_path} {tuned_path} --alpha {alpha:g} "
        f"--name {name} --out {out}"
    )
    note = f"{interpolation_note(str(base_path), str(tuned_path), alpha)}; " + precise_bn_note(
        n_images
    )
    return refresh_card(model, model_path, str(data), speed_seconds, quantization, note, command)
