"""Ensembles: trained networks behind one input, their probabilities averaged, saved as one
plain Keras model (no custom layers), so every loader, the TFLite engine and TTA treat it like
any other model.

Two deep networks trained with different recipes disagree on hard faces often enough that
their mean is right more often than either (FER2013's winners were ensembles too); the price
is one more network's time per face.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

MEMBER_PREFIX = "member"


def build_ensemble(members: Sequence, name: str):
    """One model whose output is the mean of ``members``' softmax outputs (same input size)."""
    import keras

    sizes = {tuple(m.input_shape[1:]) for m in members}
    if len(members) < 2 or len(sizes) != 1:
        raise ValueError("an ensemble needs two or more members with the same input shape")
    inputs = keras.Input(next(iter(sizes)), name="face")
    outputs = []
    for i, member in enumerate(members, start=1):
        member.name = f"{MEMBER_PREFIX}{i}_{member.name}"  # nested models need unique names
        outputs.append(member(inputs))
    mean = keras.layers.Average(name="mean_probabilities", dtype="float32")(outputs)
    return keras.Model(inputs, mean, name=name)


def ensemble_members(model) -> list:
    """The member networks of a model made by :func:`build_ensemble` ([] for other models)."""
    import keras

    final = model.layers[-1] if model.layers else None
    if not isinstance(final, keras.layers.Average):
        return []
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and layer.name.startswith(MEMBER_PREFIX)
    ]


def _member_card(path: Path) -> dict:
    card_path = path.with_suffix(".json")
    return json.loads(card_path.read_text()) if card_path.exists() else {}


def _member_summary(card: dict, index: int) -> dict:
    """What the ensemble's card keeps of a member's card: how it was trained and how it did."""
    from ..serving.tta import CARD_KEYS

    training = dict(card.get("training", {}))
    if training.get("command"):  # where the ensemble command below expects the member
        training["command"] = re.sub(r"--out \S+", f"--out members/{index}", training["command"])
    return {
        "architecture": card.get("architecture"),
        "parameters": card.get("parameters"),
        "augmentation": card.get("augmentation"),
        "training": training,
        "accuracy": {mode: card[key]["accuracy"] for mode, key in CARD_KEYS.items() if key in card},
    }


def write_ensemble(
    member_paths: Sequence[str | Path],
    out: str | Path,
    name: str,
    data: str | Path,
    speed_seconds: float = 2.0,
    val_limit: int | None = None,
    quantization: str = "auto",
) -> dict:
    """Build, save and measure ``<out>/<name>.keras`` with its card, which keeps each member's
    training record (from the ``.json`` card beside each member file)."""
    import keras

    from ..quality.dataset import load_split
    from .model_card import measured_fields
    from .tf_runtime import import_tensorflow

    import_tensorflow()
    paths = [Path(p) for p in member_paths]
    members = [keras.models.load_model(p, compile=False) for p in paths]
    model = build_ensemble(members, name)  # bad members fail here, before the dataset is needed
    val_split = load_split(data, "test")
    if val_limit:
        val_split = val_split.subset(val_limit, seed=0)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / f"{name}.keras"
    model.save(model_path)
    summaries = [_member_summary(_member_card(p), i) for i, p in enumerate(paths, start=1)]
    trained = [s["training"] for s in summaries]
    seconds = [t.get("wall_seconds") for t in trained]
    member_args = " ".join(f"members/{i}/{p.name}" for i, p in enumerate(paths, start=1))
    commands = [t["command"] for t in trained if t.get("command")]
    commands.append(f"python -m fer ensemble {member_args} --name {name} --out {out}")
    card = {
        "name": name,
        "architecture": f"ensemble of {len(members)}: "
        + ", ".join(str(s["architecture"]) for s in summaries)
        + " (mean of their probabilities)",
        **measured_fields(
            model, model_path, val_split, name, str(data), speed_seconds, quantization
        ),
        "augmentation": " | ".join(
            f"member {i}: {s['augmentation']}" for i, s in enumerate(summaries, start=1)
        ),
        "training": {
            "epochs": " + ".join(str(t.get("epochs", "?")) for t in trained),
            "wall_seconds": (
                round(sum(seconds), 1)
                if all(isinstance(s, (int, float)) for s in seconds)
                else None
            ),
            "machine": " | ".join(sorted({t["machine"] for t in trained if t.get("machine")})),
            "notes": [
                f"member {i}: {note}"
                for i, t in enumerate(trained, start=1)
                for note in t.get("notes", [])
            ],
            "command": "\n".join(commands),
        },
        "members": summaries,
    }
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return card
