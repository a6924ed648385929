"""Speed of the video analysis (fer.jobs.video) for each installed model.

    python benchmarks/video.py [VIDEO] [--seconds 10] [--every N] [--detector auto]
                               [--annotate] [--models shallow deep]

Without VIDEO a 640x360 clip is generated (the astronaut photo from scikit-image, its face
drifting slightly, 25 fps) in a temporary folder. Prints, per model: analysed frames per
second (detection + classification + tracking on the frames that are analysed) and video
frames per second overall (decoding every frame included, and writing the annotated copy with
``--annotate``), i.e. how many times faster than real time the video is processed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from fer.jobs.video import analyze_video  # noqa: E402
from fer.jobs.video_io import probe_video  # noqa: E402
from fer.quality.speed import machine  # noqa: E402
from fer.serving.analyzer import Analyzer  # noqa: E402
from fer.serving.registry import available_models  # noqa: E402


def make_clip(path: Path, seconds: float = 10.0, fps: int = 25, size=(640, 360)) -> Path:
    """The astronaut's face on a grey background, drifting a few pixels, H.264 (or MPEG-4)."""
    import av
    import cv2
    from skimage import data

    from fer.jobs.video_io import video_encoder

    w, h = size
    side = int(h * 0.8)
    face = cv2.resize(data.astronaut()[0:320, 80:400], (side, side), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(video_encoder(), rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            canvas = np.full((h, w, 3), 100, np.uint8)
            x = int((w - side) / 2 + 20 * np.sin(i / 15))
            y = int((h - side) / 2 + 6 * np.cos(i / 11))
            canvas[y : y + side, x : x + side] = face
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=None)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the generated clip")
    parser.add_argument(
        "--every",
        type=int,
        default=None,
        help="analyse every N-th frame (default: about 5 per second)",
    )
    parser.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"])
    parser.add_argument("--annotate", action="store_true", help="also write the annotated MP4")
    parser.add_argument("--models", nargs="*", default=None, help="default: all installed")
    args = parser.parse_args()

    models = [m for m in available_models() if not args.models or m.name in args.models]
    if not models:
        sys.exit("no trained model is installed (set FER_MODELS_DIR or train one)")
    with tempfile.TemporaryDirectory(prefix="fer-bench-") as tmp:
        video = Path(args.video) if args.video else make_clip(Path(tmp) / "clip.mp4", args.seconds)
        info = probe_video(video)
        print(
            f"machine: {machine()}; video: {video.name}, {info.width}x{info.height}, "
            f"{info.fps:.2f} fps, {info.duration or 0:.1f} s, {info.codec}"
        )
        for model in models:
            analyzer = Analyzer(model=model, detector=args.detector)
            analyzer.analyze(np.zeros((info.height or 360, info.width or 640, 3), np.uint8))  # warm
            out = Path(tmp) / f"{model.name}-annotated.mp4" if args.annotate else None
            result = analyze_video(video, analyzer, every=args.every, out_path=out)
            faces = len(result.rows) / max(1, result.frames_analyzed)
            seconds = result.elapsed_s
            print(
                f"{model.name:8s} detector {analyzer.detector.name:5s} every {result.every}: "
                f"{result.frames_analyzed} analysed frames in {seconds:.2f} s = "
                f"{result.frames_analyzed / seconds:.1f} analysed frames/s "
                f"({faces:.2f} faces/frame); all {result.frames_read} frames: "
                f"{result.frames_read / seconds:.1f} video frames/s = "
                f"{result.seconds_read / seconds:.1f}x real time"
                f"{' with the annotated copy' if out else ''}"
                f"{'; error: ' + result.error if result.error else ''}"
            )


if __name__ == "__main__":
    main()
