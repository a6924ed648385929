"""How archive analysis scales with Ray workers (fer.distributed), beside one process.

    python benchmarks/scale.py [--workers 1,2] [--photos 96] [--videos 4] [--seconds 20]
                               [--model shallow] [--detector auto]

Generates a folder of real face photos (scikit-image's astronaut, 512x512, in a few forms) and
a few 640x360 H.264 clips (25 fps, her face drifting; about 5 frames per second analysed, the
CLI's default) in a temporary folder, then measures:
- one process: ``python -m fer predict`` / ``video``'s own loop (LiteRT and OpenCV free to use
  every core);
- Ray with N workers for each N of ``--workers``: a local Ray instance with N CPUs, one worker
  per CPU (one thread each), through :func:`fer.distributed.predict_images` and
  :func:`fer.distributed.analyze_videos`, after one warm-up run (worker processes started,
  the code shipped), so the figure is the steady rate an archive sees.
Prints the machine, photos per second and video frames per second (every decoded frame
counted), and each Ray figure as a multiple of the one-worker figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from fer.speed import machine  # noqa: E402


def make_photos(folder: Path, n: int) -> list[Path]:
    import cv2
    from PIL import Image
    from skimage import data

    photo = data.astronaut()
    forms = [
        photo,
        photo[:, ::-1],
        cv2.resize(photo, (384, 384)),
        np.ascontiguousarray(photo[:, :, ::-1]),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"p{i:05d}.jpg"
        Image.fromarray(forms[i % len(forms)]).save(path, quality=92)
        paths.append(path)
    return paths


def make_videos(folder: Path, n: int, seconds: float) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from video import make_clip

    folder.mkdir(parents=True, exist_ok=True)
    first = make_clip(folder / "v00.mp4", seconds=seconds)
    paths = [first]
    for i in range(1, n):
        path = folder / f"v{i:02d}.mp4"
        path.write_bytes(first.read_bytes())
        paths.append(path)
    return paths


def single_process(photos: list[Path], videos: list[Path], model, detector) -> tuple[float, float]:
    from fer.analyzer import Analyzer
    from fer.distributed import analyze_photo_batch
    from fer.video import analyze_video

    analyzer = Analyzer(model=model, detector=detector)
    analyze_photo_batch(analyzer, [str(photos[0])])  # warm
    start = time.perf_counter()
    analyze_photo_batch(analyzer, [str(p) for p in photos])
    photo_rate = len(photos) / (time.perf_counter() - start)
    start, frames = time.perf_counter(), 0
    for video in videos:
        frames += analyze_video(video, analyzer).frames_read
    return photo_rate, frames / (time.perf_counter() - start)


def on_ray(
    workers: int, photos: list[Path], videos: list[Path], model, detector, batch: int
) -> tuple[float, float]:
    import ray

    from fer.distributed import _fer_package, analyze_videos, predict_images

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address="local",
        num_cpus=workers,
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"py_modules": [_fer_package()]},
    )
    try:
        common = dict(address="auto", model=model, detector=detector)
        predict_images(photos[: 2 * workers], batch_size=1, workers=workers, **common)  # warm
        run = predict_images(photos, batch_size=batch, workers=workers, **common)
        photo_rate = run.inputs / run.elapsed_s
        analyze_videos(videos[:1], segment_seconds=None, **common)  # warm
        run = analyze_videos(videos, segment_seconds=None, **common)
        return photo_rate, run.frames / run.elapsed_s
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--batch", type=int, default=8, help="photos per task")
    parser.add_argument("--model", default="shallow")
    parser.add_argument("--detector", default="auto")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]

    with tempfile.TemporaryDirectory(prefix="fer-scale-") as tmp:
        photos = make_photos(Path(tmp) / "photos", args.photos)
        videos = make_videos(Path(tmp) / "videos", args.videos, args.seconds)
        from fer.detection import create_detector

        detector = create_detector(args.detector)[0].name
        print(f"machine: {machine()}")
        print(
            f"model {args.model}, detector {detector}; {args.photos} photos (512x512 and "
            f"384x384 JPEG, one face each), {args.videos} clips of {args.seconds:g} s "
            f"(640x360, 25 fps, every 5th frame analysed)"
        )
        rows = []
        p1, v1 = single_process(photos, videos, args.model, detector)
        rows.append(("one process (all cores)", p1, v1, ""))
        base = None
        for n in counts:
            if n > (os.cpu_count() or 1):
                print(f"skipping {n} workers: this machine has {os.cpu_count()} cores")
                continue
            p, v = on_ray(n, photos, videos, args.model, detector, args.batch)
            base = base or (p, v)
            rows.append(
                (
                    f"Ray, {n} worker{'s' * (n != 1)}",
                    p,
                    v,
                    f"{p / base[0]:.2f}x / {v / base[1]:.2f}x",
                )
            )
        print()
        print("| run | photos/s | video frames/s | vs 1 worker (photos / video) |")
        print("| --- | --- | --- | --- |")
        for name, p, v, ratio in rows:
            print(f"| {name} | {p:.1f} | {v:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
