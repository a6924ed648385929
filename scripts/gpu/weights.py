"""Carry trained weights back from the GPU machine in half the bytes.

A lent GPU returns at most 64 MB of files and a deep model is 28 MB, so several runs do not fit
as .keras files. ``export`` writes the kernels as float16 (biases and batch-norm statistics stay
float32) with the run's state; ``import`` rebuilds the float32 model and its run state here, and
then ``python -m fer card --arch ARCH --out OUT`` writes the card, measuring the rounded model.

    python scripts/gpu/weights.py export ARCH RUNDIR DEST TAG   # on the GPU machine
    python scripts/gpu/weights.py import ARCH DEST/TAG OUT      # here
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

NOTE = (
    "weights came back from the GPU machine with float16 kernels (scripts/gpu/weights.py); "
    "the card measures the model as shipped"
)


def export(arch: str, rundir: str, dest: str, tag: str) -> None:
    import keras

    model = keras.models.load_model(Path(rundir) / f"{arch}.keras", compile=False)
    arrays = {
        f"w{i:03d}": (w.astype(np.float16) if w.size > 4096 else w)
        for i, w in enumerate(model.get_weights())
    }
    np.savez(Path(dest) / f"{tag}.npz", **arrays)
    shutil.copy(
        Path(rundir) / ".checkpoints" / arch / "state.json", Path(dest) / f"{tag}.state.json"
    )


def import_(arch: str, prefix: str, out: str) -> None:
    from fer.training.architectures import build

    weights = np.load(f"{prefix}.npz")
    model = build(arch)
    model.set_weights([weights[k].astype(np.float32) for k in sorted(weights.files)])
    Path(out).mkdir(parents=True, exist_ok=True)
    model.save(Path(out) / f"{arch}.keras")
    state = json.loads(Path(f"{prefix}.state.json").read_text())
    state.setdefault("notes", []).append(NOTE)
    ckpt = Path(out) / ".checkpoints" / arch
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / "state.json").write_text(json.dumps(state, indent=1))


if __name__ == "__main__":
    verb, *rest = sys.argv[1:]
    {"export": export, "import": import_}[verb](*rest)
