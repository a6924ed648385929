"""How long the CLI takes in a cold process, as a user types it:

    python benchmarks/cli.py [--runs 5] [--model shallow]

Times ``python -m fer predict photo.jpg`` (scikit-image's astronaut photo, one face) and
``python -m fer predict notes.jpg`` (a text file named .jpg: the one-line error), each in a fresh
process, and prints the median and the worst wall time of ``--runs`` runs, plus whether
TensorFlow or Keras was imported (it must not be). Targets: predict <= 1.5 s, the
bad file's error <= 0.5 s. It only prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.quality.speed import machine  # noqa: E402

SHARED_YUNET = ROOT.parent / "shared" / "models" / "face_detection_yunet_2023mar.onnx"
PROBE = (
    "import runpy, sys; sys.argv = ['fer'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('fer', run_name='__main__')\n"
    "finally:\n    heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
    "    print('HEAVY', ','.join(heavy) or '-', file=sys.stderr)"
)


def timed(args: list[str], env: dict) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    elapsed = time.perf_counter() - start
    heavy = next(
        (line.split()[1] for line in done.stderr.splitlines() if line.startswith("HEAVY ")), "?"
    )
    return elapsed, done.returncode, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="shallow")
    args = parser.parse_args()
    from PIL import Image
    from skimage import data

    folder = Path(tempfile.mkdtemp(prefix="fer-cli-bench-"))
    photo, bad = folder / "photo.jpg", folder / "notes.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    bad.write_text("not a photo\n")
    env = {**os.environ, "FER_NO_DOWNLOAD": "1"}
    if "FER_YUNET_MODEL" not in env and SHARED_YUNET.exists():
        env["FER_YUNET_MODEL"] = str(SHARED_YUNET)
    print(f"machine: {machine()}; {args.runs} cold runs each, model {args.model}")
    for label, argv, target in (
        ("predict photo.jpg", ["predict", str(photo), "--model", args.model], 1.5),
        ("predict notes.jpg (bad file)", ["predict", str(bad), "--model", args.model], 0.5),
    ):
        timed(argv, env)  # one unmeasured run: the OS file cache, as for a user's second call
        runs = [timed(argv, env) for _ in range(args.runs)]
        walls = [r[0] for r in runs]
        print(
            f"{label:30s} median {statistics.median(walls):.2f} s  worst {max(walls):.2f} s  "
            f"(target <= {target} s)  exit {runs[-1][1]}  TensorFlow/Keras imported: "
            f"{runs[-1][2]}"
        )


if __name__ == "__main__":
    main()
