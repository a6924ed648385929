"""Where the tests find shared resources: skip with a reason when absent, fail under CI=true."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _require(path: Path, what: str) -> Path:
    if path.exists():
        return path
    message = f"{what} not found at {path}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


def fer2013_root() -> Path:
    return _require(Path(os.environ.get("FER2013_DIR", ROOT / ".." / "shared/datasets/fer2013")),
                    "FER2013 (set FER2013_DIR)")


# Read once at import: tests monkeypatch FER_YUNET_MODEL, the shared file must not move with it.
_YUNET = Path(os.environ.get("FER_YUNET_MODEL")
              or ROOT / ".." / "shared/models/face_detection_yunet_2023mar.onnx")


def yunet_file() -> Path:
    return _require(_YUNET, "YuNet model (set FER_YUNET_MODEL)").resolve()
