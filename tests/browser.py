"""Helpers for the browser tests: a real `streamlit run` on a free port, Debian's chromium
driven by Playwright (no browser download), and a fake-camera .y4m made from a real photo."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("FER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerURL(str):
    """The server's base URL, with the server's process id (benchmarks read its memory)."""

    pid: int


@contextmanager
def streamlit_server(root: Path, env: dict, timeout: float = 120):
    """Start ``streamlit run streamlit_app.py`` on a free localhost port; yields the base URL
    (a :class:`ServerURL`)."""
    port = free_port()
    log = open(Path(env.get("FER_CACHE_DIR", "/tmp")) / f"streamlit-{port}.log", "w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.seek(0)
                raise RuntimeError(f"streamlit did not start:\n{log.read()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def write_y4m(
    path: Path, frame_rgb: np.ndarray | list[np.ndarray], frames: int = 30, fps: int = 15
) -> Path:
    """A YUV4MPEG2 (4:2:0) clip for chromium's fake camera: one still frame repeated
    ``frames`` times, or a list of frames (all of one size) played once per loop."""
    import cv2

    clip = list(frame_rgb) if isinstance(frame_rgb, list) else [frame_rgb] * frames
    h, w = clip[0].shape[:2]
    h, w = h - h % 2, w - w % 2
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in clip:
            fh.write(b"FRAME\n")
            fh.write(
                cv2.cvtColor(np.ascontiguousarray(frame[:h, :w]), cv2.COLOR_RGB2YUV_I420).tobytes()
            )
    return path
