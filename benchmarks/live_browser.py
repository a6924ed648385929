"""The Live page as a user gets it: `streamlit run` on a free localhost port, Debian's headless
chromium with a fake camera, the page's own FPS and latency figures.

    python benchmarks/live_browser.py [--seconds 60] [--warmup 15] [--configs shallow,deep,both,after-explain]

The fake camera plays a 640x480, 15 fps clip made from a real face photo that scikit-image
ships (the astronaut, panned and zoomed a little every frame so the encoder has motion to
code). For each configuration it opens the Live page in a fresh tab, picks the model in the
sidebar (``both``: shallow plus the "Both models" toggle), presses START, and every 5 s prints
the FPS and latency that the page shows. After ``--warmup`` seconds it reports their medians
and the largest latency seen. ``after-explain`` first shows "Why this label?" heatmaps on the
Photo page in the same server, then streams shallow again. The server's memory (RSS, from
/proc) is printed after each configuration; with a long ``--seconds`` (600) the first and last
minute compare for drift.

Targets (on this 2-core machine): median FPS >= 14 (the camera's rate), median latency
<= 40 ms, no sample above 100 ms, RSS <= 400 MB after Photo plus 60 s of Live. It only prints.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.quality.speed import machine  # noqa: E402
from tests.browser import CHROMIUM_ARGS, require_chromium, streamlit_server, write_y4m  # noqa: E402

SHARED_YUNET = ROOT.parent / "shared" / "models" / "face_detection_yunet_2023mar.onnx"
SAMPLE_EVERY_S = 5
CONFIGS = ("shallow", "deep", "both", "after-explain")


def camera_clip(folder: Path, seconds: int = 8, fps: int = 15) -> Path:
    """A 640x480 clip of the astronaut's face drifting and zooming slowly (a loop of
    ``seconds``), as YUV4MPEG2 for chromium's fake camera."""
    import cv2
    import numpy as np
    from skimage import data

    photo = data.astronaut()
    frames = []
    for i in range(seconds * fps):
        t = 2 * np.pi * i / (seconds * fps)
        scale = 1.6 + 0.1 * np.sin(t)
        dx, dy = 30 * np.sin(t), 15 * np.cos(t)
        matrix = np.float32(
            [[scale, 0, 320 - scale * (225 + dx)], [0, scale, 240 - scale * (140 + dy)]]
        )
        frames.append(cv2.warpAffine(photo, matrix, (640, 480), borderMode=cv2.BORDER_REFLECT))
    return write_y4m(folder / "camera.y4m", frames, fps=fps)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except OSError:
            continue
    return total / 1024


def _metric(page, label: str):
    return (
        page.locator('[data-testid="stMetric"]')
        .filter(has_text=label)
        .locator('[data-testid="stMetricValue"]')
        .last
    )


def _number(text: str) -> float | None:
    found = re.search(r"\d+(\.\d+)?", text or "")
    return float(found.group()) if found else None


def _pick_model(page, name: str) -> None:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    box.click()
    page.get_by_role("option", name=re.compile(rf"^{name}\b")).click()
    page.wait_for_timeout(1500)


def _start(page) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        for frame in page.frames:
            button = frame.get_by_role("button", name="START")
            if button.count():
                button.first.click()
                return
        page.wait_for_timeout(500)
    raise RuntimeError("the webrtc START button never appeared")


def _show_explanations(browser, url: str, folder: Path) -> None:
    from PIL import Image
    from playwright.sync_api import expect
    from skimage import data

    photo = folder / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(f"{url}/photo", wait_until="domcontentloaded")
    page.locator("input[type=file]").first.set_input_files(str(photo))
    expect(page.get_by_text(re.compile(r"astronaut\.jpg: 1 face"))).to_be_visible(timeout=120_000)
    page.get_by_text("Why this label?").click()
    expect(page.get_by_text("Warmer areas")).to_be_visible(timeout=300_000)
    page.close()


def stream(browser, url: str, config: str, seconds: float, warmup: float, server_pid: int) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 1300})
    page.goto(f"{url}/live", wait_until="domcontentloaded")
    page.get_by_text("Live", exact=True).first.wait_for(timeout=120_000)
    _pick_model(page, "deep" if config == "deep" else "shallow")
    if config == "both":
        page.get_by_text("Both models").click()
        page.wait_for_timeout(1000)
    _start(page)
    fps, latency = _metric(page, "FPS"), _metric(page, "Latency")
    fps.filter(has_text=re.compile(r"\d")).wait_for(timeout=120_000)
    samples, start = [], time.time()
    while (elapsed := time.time() - start) < seconds:
        time.sleep(max(0.0, SAMPLE_EVERY_S - (time.time() - start) % SAMPLE_EVERY_S))
        f, lat = _number(fps.inner_text()), _number(latency.inner_text())
        elapsed = time.time() - start
        samples.append((elapsed, f, lat))
        print(
            f"  {config:13s} t={elapsed:5.0f} s  FPS {f}  latency {lat} ms  "
            f"server RSS {rss_mb(server_pid):.0f} MB",
            flush=True,
        )
    page.close()
    kept = [
        (t, f, lat) for t, f, lat in samples if t >= warmup and f is not None and lat is not None
    ]
    result = {"config": config, "samples": len(kept), "rss_mb": rss_mb(server_pid)}
    if kept:
        result.update(
            median_fps=statistics.median(f for _, f, _ in kept),
            median_latency_ms=statistics.median(lat for _, _, lat in kept),
            max_latency_ms=max(lat for _, _, lat in kept),
        )
        first = [f for t, f, _ in kept if t < warmup + 60]
        last = [f for t, f, _ in kept if t >= seconds - 60]
        result.update(
            first_minute_fps=statistics.median(first), last_minute_fps=statistics.median(last)
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(sorted(unknown))}; use {CONFIGS}")
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    folder = Path(tempfile.mkdtemp(prefix="fer-live-browser-"))
    clip = camera_clip(folder)
    (folder / "cache").mkdir()
    env = {
        **os.environ,
        "FER_CACHE_DIR": str(folder / "cache"),
        "FER_NO_DOWNLOAD": "1",
        "FER_MODELS_DIR": str(ROOT / "models"),
    }
    env.pop("FER_ICE_SERVERS", None)
    if "FER_YUNET_MODEL" not in env and SHARED_YUNET.exists():
        env["FER_YUNET_MODEL"] = str(SHARED_YUNET)
    detector = "YuNet" if Path(env.get("FER_YUNET_MODEL", "/nonexistent")).exists() else "Haar"
    print(
        f"machine: {machine()}; detector {detector}; camera 640x480 at 15 fps; "
        f"{args.seconds:g} s per configuration, medians after {args.warmup:g} s"
    )
    results = []
    with streamlit_server(ROOT, env) as url, sync_playwright() as p:
        server_pid = url.pid
        print(f"server RSS at start: {rss_mb(server_pid):.0f} MB")
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={clip}",
            ],
        )
        for config in configs:
            if config == "after-explain":
                _show_explanations(browser, url, folder)
                print(
                    f"  explanations shown on the Photo page; server RSS {rss_mb(server_pid):.0f} MB"
                )
            results.append(stream(browser, url, config, args.seconds, args.warmup, server_pid))
        browser.close()
    print(
        f"\n{'configuration':14s} {'median FPS':>10s} {'median ms':>10s} {'max ms':>7s} "
        f"{'RSS MB':>7s}"
    )
    for r in results:
        if "median_fps" not in r:
            print(f"{r['config']:14s} no samples after the warm-up")
            continue
        print(
            f"{r['config']:14s} {r['median_fps']:10.1f} {r['median_latency_ms']:10.0f} "
            f"{r['max_latency_ms']:7.0f} {r['rss_mb']:7.0f}"
        )
    if args.seconds >= 180:
        for r in results:
            if "first_minute_fps" in r:
                print(
                    f"{r['config']}: FPS first minute {r['first_minute_fps']:.1f}, last minute "
                    f"{r['last_minute_fps']:.1f}"
                )


if __name__ == "__main__":
    main()
