"""Speed of the live webcam path and of a large photo.

    python benchmarks/live.py [--seconds 10] [--models-dir DIR] [--untrained] [--detector NAME]

For each model (shallow, deep, then both models at once) it feeds 640x480 frames with one face
of ~120 px (skimage's astronaut, scaled) to ``fer.jobs.live.LiveProcessor.process_bgr`` for
``--seconds`` and prints frames per second and the mean and 95th-percentile latency per frame
(detection + classification + tracking + drawing). Then it times ``Analyzer.analyze`` on a
12-megapixel photo (4000x3000, the astronaut upscaled) with the deep model.

The detector is YuNet when its file is available (``$FER_YUNET_MODEL``, the user cache or
``../shared/models``), else the Haar cascade. ``--untrained`` times freshly built, untrained
networks (same architectures, so the same speed) when no trained model is installed yet.
It only prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SHARED_YUNET = ROOT.parent / "shared" / "models" / "face_detection_yunet_2023mar.onnx"
FACE_PX = 120
FRAME_W, FRAME_H = 640, 480


def build_untrained(folder: Path) -> None:
    import keras

    from fer.training.architectures import build
    from fer.training.export import write_serving_file

    keras.utils.set_random_seed(0)
    for name in ("shallow", "deep"):
        model = build(name)
        model.save(folder / f"{name}.keras")
        write_serving_file(model, folder / f"{name}.keras")


def make_frame(detector) -> np.ndarray:
    """A 640x480 BGR frame with the astronaut's face ~FACE_PX wide, near the centre."""
    import cv2
    import numpy as np
    from skimage import data

    photo = data.astronaut()
    faces = detector.detect(photo, min_face=40)
    x, y, w, h = faces[0].box if faces else (170, 40, 110, 110)
    scale = FACE_PX / w
    big = cv2.resize(
        photo,
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    cx, cy = int((x + w / 2) * scale), int((y + h / 2) * scale)
    pad = max(FRAME_W, FRAME_H)
    padded = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    left, top = cx + pad - FRAME_W // 2, cy + pad - FRAME_H // 2
    frame = padded[top : top + FRAME_H, left : left + FRAME_W]
    return np.ascontiguousarray(frame[:, :, ::-1])


def make_12mp() -> np.ndarray:
    import cv2
    import numpy as np
    from skimage import data

    square = cv2.resize(data.astronaut(), (3000, 3000), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.copyMakeBorder(square, 0, 0, 500, 500, cv2.BORDER_REFLECT)
    return np.ascontiguousarray(canvas)  # 4000x3000 RGB


def run_stream(processor, frame, seconds: float) -> dict:
    for _ in range(3):  # warm-up: analyzer creation, first TFLite calls
        processor.process_bgr(frame)
    processor.drain()
    latencies = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        processor.process_bgr(frame)
        latencies.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - start >= seconds and len(latencies) >= 5:
            break
    elapsed = time.perf_counter() - start
    samples = processor.drain()
    errors = [s.error for s in samples if s.is_error]
    if errors:
        raise RuntimeError(errors[0])
    faces = statistics.mean(s.faces for s in samples) if samples else 0
    latencies.sort()
    return {
        "frames": len(latencies),
        "fps": len(latencies) / elapsed,
        "mean_ms": statistics.mean(latencies),
        "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "faces": faces,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per model (default 10)")
    parser.add_argument("--models-dir", type=Path, help="models folder (default: models/)")
    parser.add_argument(
        "--untrained",
        action="store_true",
        help="time untrained networks built on the fly (no trained model needed)",
    )
    parser.add_argument(
        "--detector", choices=["yunet", "haar"], help="default: yunet if available, else haar"
    )
    args = parser.parse_args()

    if not os.environ.get("FER_YUNET_MODEL") and SHARED_YUNET.is_file():
        os.environ["FER_YUNET_MODEL"] = str(SHARED_YUNET)
    os.environ.setdefault("FER_NO_DOWNLOAD", "1")
    tmp = None
    if args.untrained:
        tmp = tempfile.TemporaryDirectory(prefix="fer-bench-models-")
        os.environ["FER_MODELS_DIR"] = tmp.name
        build_untrained(Path(tmp.name))
    elif args.models_dir:
        os.environ["FER_MODELS_DIR"] = str(args.models_dir)

    from fer.config import AnalysisConfig
    from fer.errors import ModelNotFoundError
    from fer.jobs.live import LiveProcessor
    from fer.quality.speed import machine
    from fer.serving.analyzer import Analyzer
    from fer.serving.registry import available_models
    from fer.settings import models_dir
    from fer.vision.detection import available_detectors, create_detector

    detector_name = args.detector or available_detectors()[0]
    detector, notice = create_detector(detector_name)
    models = [m.name for m in available_models() if m.name in ("shallow", "deep")]
    kind = "untrained (built on the fly)" if args.untrained else "trained"
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    print(
        f"models: {', '.join(models) or 'none'} in {models_dir()} ({kind}); "
        f"detector: {detector.name}" + (f" ({notice})" if notice else "")
    )
    if not models:
        print(
            "No model installed: train one (python -m fer train ...), pass --models-dir, "
            "or use --untrained to time untrained networks."
        )
        return 1

    frame = make_frame(detector)
    print(
        f"\nlive frames {FRAME_W}x{FRAME_H}, one face ~{FACE_PX} px, "
        f"{args.seconds:g} s per configuration"
    )
    print(
        f"{'configuration':24s} {'frames':>7s} {'FPS':>7s} {'mean ms':>8s} {'p95 ms':>8s} "
        f"{'faces':>6s}"
    )
    configs = [(m, False) for m in models]
    if len(models) == 2:
        configs.append(("shallow", True))
    for model, both in configs:
        processor = LiveProcessor(
            AnalysisConfig(model=model, detector=detector.name), both_models=both
        )
        try:
            r = run_stream(processor, frame, args.seconds)
        except (ModelNotFoundError, RuntimeError) as exc:
            print(f"{model:24s} failed: {exc}")
            continue
        label = "shallow + deep (both)" if both else model
        print(
            f"{label:24s} {r['frames']:7d} {r['fps']:7.1f} {r['mean_ms']:8.1f} "
            f"{r['p95_ms']:8.1f} {r['faces']:6.2f}"
        )

    big_model = "deep" if "deep" in models else models[0]
    image = make_12mp()
    analyzer = Analyzer(model=big_model, detector=detector)
    times, faces = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        faces = analyzer.analyze(image)
        times.append(time.perf_counter() - t0)
    print(
        f"\n12-megapixel photo ({image.shape[1]}x{image.shape[0]}), {big_model} model, "
        f"{detector.name}: first {times[0]:.2f} s, median of 3 {statistics.median(times):.2f} s, "
        f"{len(faces)} face(s)"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
