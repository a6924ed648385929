"""Real-world shifts as training augmentation: the robustness suite's own shift functions
(:mod:`fer.quality.robustness`), each applied with a probability and a parameter drawn from the
range webcams and phones bring. They work on ``uint8`` faces before
:func:`fer.vision.preprocessing.to_model_input`, exactly where the suite applies them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..quality import robustness

Sampler = Callable[[np.random.Generator], robustness.Shift]

ROLL_MAX = 30.0
"""Degrees: the largest roll trained on, the robustness suite's largest."""


def roll_sampler(min_degrees: float = 0.0) -> Sampler:
    """The roll's sampler: uniform in +-30 degrees, or, with ``min_degrees``, a size uniform in
    ``[min_degrees, 30]`` either way (the large rolls the suite tests, drawn more often)."""
    if min_degrees <= 0:
        return lambda rng: robustness.rotate(float(rng.uniform(-ROLL_MAX, ROLL_MAX)))
    low = min(float(min_degrees), ROLL_MAX)
    return lambda rng: robustness.rotate(
        float(rng.choice((-1.0, 1.0)) * rng.uniform(low, ROLL_MAX))
    )


SHIFT_SAMPLERS: dict[str, Sampler] = {
    "roll": roll_sampler(),
    "downscale": lambda rng: robustness.downscale(int(rng.integers(20, 33))),
    "blur": lambda rng: robustness.blur(float(rng.uniform(0.3, 2.0))),
    "low contrast": lambda rng: robustness.low_contrast(float(rng.uniform(0.3, 0.8))),
    "gamma": lambda rng: robustness.gamma(float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))),
    "jpeg": lambda rng: robustness.jpeg(int(rng.integers(20, 91))),
}
"""Each shift with its parameter's sampler, in the order a camera would apply them: roll of
the head, resolution, focus, exposure and contrast, compression last."""


def shift_chances(probability: float, roll: float | None = None) -> dict[str, float]:
    """Each shift's probability: ``probability`` for all, the roll ``roll`` where given."""
    chances = dict.fromkeys(SHIFT_SAMPLERS, float(probability))
    if roll is not None:
        chances["roll"] = float(roll)
    return chances


def apply_random_shifts(
    images: np.ndarray,
    probability: float | Mapping[str, float],
    rng: np.random.Generator,
    roll_min: float = 0.0,
) -> np.ndarray:
    """Each face gets each shift with ``probability`` (one for all, or per shift name as
    :func:`shift_chances` gives), with a parameter of its own; the roll's size from
    ``roll_min`` degrees (:func:`roll_sampler`)."""
    if isinstance(probability, Mapping):
        chances = {name: float(probability.get(name, 0.0)) for name in SHIFT_SAMPLERS}
    else:
        chances = shift_chances(probability)
    if max(chances.values()) <= 0:
        return images
    out = np.array(images, dtype=np.uint8, copy=True)
    samplers = (
        {**SHIFT_SAMPLERS, "roll": roll_sampler(roll_min)} if roll_min > 0 else SHIFT_SAMPLERS
    )
    for name, sample in samplers.items():
        for i in np.flatnonzero(rng.random(len(out)) < chances[name]):
            out[i] = sample(rng)(out[i : i + 1])[0]
    return out


def shifts_recipe(probability: float, roll: float | None = None, roll_min: float = 0.0) -> str:
    """The shifts as the model card describes them ('' when off); ``roll``: the roll's own
    probability, where it differs; ``roll_min``: the roll's smallest size."""
    if roll is None or roll == probability:
        if probability <= 0:
            return ""
        chances = f"each with p={probability:g}"
    else:
        chances = f"each with p={probability:g}, the roll with p={roll:g}"
    rolls = f"{roll_min:g}-{ROLL_MAX:g}" if roll_min > 0 else f"up to {ROLL_MAX:g}"
    return (
        f"; real-world shifts, {chances}: roll {rolls} degrees, downscale "
        "to 20-32 px and back, Gaussian blur sigma 0.3-2, contrast x0.3-0.8, gamma 0.5-2, "
        "JPEG quality 20-90"
    )
