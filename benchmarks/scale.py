"""How archive analysis scales with Ray workers (fer.archive), beside one process.

    python benchmarks/scale.py [--workers 1,2] [--photos 512] [--videos 4] [--seconds 20]
                               [--batch 16] [--model shallow] [--detector auto]

Generates a folder of real face photos (scikit-image's astronaut, 512x512 and 384x384, in a
few forms) and a few 640x360 H.264 clips (25 fps, her face drifting; about 5 frames per second
analysed, the CLI's default) in a temporary folder, then measures:
- one process: the CLI's own loops (:func:`fer.jobs.photo.analyze_photo` per photo,
  :func:`fer.jobs.video.analyze_video` per video), LiteRT and OpenCV free to use every core;
- Ray with N workers for each N of ``--workers``: a local Ray instance with N CPUs, one worker
  per CPU (one thread each), through :func:`fer.archive.predict_images` and
  :func:`fer.archive.analyze_videos` (one unit per video), after one warm-up run (the code
  shipped, the worker processes' imports done); each run starts its actors and loads the model
  in them, as an archive run does.
Prints the machine, photos per second and video frames per second (every decoded frame
counted), each Ray figure as a multiple of the one-worker figure, the 2-worker ratios, and
whether every Ray run wrote the same rows as the one process (byte for byte).
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

from fer.config import AnalysisConfig  # noqa: E402
from fer.quality.speed import machine  # noqa: E402


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


def single_process(photos, videos, config: AnalysisConfig, out: Path) -> tuple[float, float]:
    """Photos and video frames per second in this process; its CSVs go to ``out``."""
    from fer.jobs.photo import analyze_photo
    from fer.jobs.video import analyze_video
    from fer.output.results import VIDEOS_COLUMNS, Results, named_video_rows, write_csv
    from fer.serving.analyzer import get_analyzer

    analyzer = get_analyzer(config)
    analyze_photo(analyzer, photos[0])  # warm
    start = time.perf_counter()
    results = [analyze_photo(analyzer, p).to_dict() for p in photos]
    photo_rate = len(photos) / (time.perf_counter() - start)
    Results.from_images(results).to_csv(out / "photos.csv")
    start, rows, frames = time.perf_counter(), [], 0
    for video in videos:
        result = analyze_video(video, analyzer, config.every, config.smoothing)
        frames += result.frames_read
        rows.extend(named_video_rows(str(video), result))
    video_rate = frames / (time.perf_counter() - start)
    write_csv(rows, out / "videos.csv", VIDEOS_COLUMNS)
    return photo_rate, video_rate


def on_ray(workers: int, photos, videos, config: AnalysisConfig, batch: int, out: Path):
    """Photos and video frames per second on ``workers`` Ray workers, and whether their CSVs
    are those of the one process."""
    import ray

    from fer.archive import RunOptions, analyze_videos, predict_images
    from fer.archive.cluster import fer_package

    ray.init(
        address="local",
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"py_modules": [fer_package()]},
    )
    try:
        options = RunOptions(workers=workers, batch_size=batch, segment_seconds=None)
        warm = RunOptions(workers=workers, batch_size=1, segment_seconds=None)
        predict_images(photos[: 2 * workers], None, config, warm)
        run = predict_images(photos, out / f"photos-{workers}.csv", config, options)
        photo_rate = run.inputs / run.elapsed_s
        analyze_videos(videos[:1], None, config, warm)
        run = analyze_videos(videos, out / f"videos-{workers}.csv", config, options)
        same = all(
            (out / f"{kind}-{workers}.csv").read_bytes() == (out / f"{kind}.csv").read_bytes()
            for kind in ("photos", "videos")
        )
        return photo_rate, run.frames / run.elapsed_s, same
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--photos", type=int, default=512)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--batch", type=int, default=16, help="photos per task")
    parser.add_argument("--model", default="shallow")
    parser.add_argument("--detector", default="auto")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    with tempfile.TemporaryDirectory(prefix="fer-scale-") as tmp:
        out = Path(tmp)
        photos = make_photos(out / "photos", args.photos)
        videos = make_videos(out / "videos", args.videos, args.seconds)
        from fer.vision.detection import create_detector

        detector = create_detector(args.detector)[0].name
        config = AnalysisConfig(model=args.model, detector=detector)
        print(f"machine: {machine()}")
        print(
            f"model {args.model}, detector {detector}; {args.photos} photos (512x512 and "
            f"384x384 JPEG, one face each), {args.videos} clips of {args.seconds:g} s "
            f"(640x360, 25 fps, every 5th frame analysed); {args.batch} photos per task"
        )
        p1, v1 = single_process(photos, videos, config, out)
        rows = [("one process (all cores)", p1, v1, "", "")]
        rates: dict[int, tuple[float, float]] = {}
        for n in counts:
            if n > (os.cpu_count() or 1):
                print(f"skipping {n} workers: this machine has {os.cpu_count()} cores")
                continue
            p, v, same = on_ray(n, photos, videos, config, args.batch, out)
            rates[n] = (p, v)
            base = rates[min(rates)]
            ratio = f"{p / base[0]:.2f}x / {v / base[1]:.2f}x"
            rows.append((f"Ray, {n} worker{'s' * (n != 1)}", p, v, ratio, "yes" if same else "NO"))
        print()
        print("| run | photos/s | video frames/s | vs 1 worker (photos / video) | same rows |")
        print("| --- | --- | --- | --- | --- |")
        for name, p, v, ratio, same in rows:
            print(f"| {name} | {p:.1f} | {v:.1f} | {ratio} | {same} |")
        if 1 in rates and 2 in rates:
            print(
                f"\n2 workers against 1: photos {rates[2][0] / rates[1][0]:.2f}x, "
                f"video frames {rates[2][1] / rates[1][1]:.2f}x"
            )
        if any(same == "NO" for *_, same in rows):
            sys.exit("a Ray run wrote other rows than the one process")


if __name__ == "__main__":
    main()
