"""Why this label: heatmaps of where in each face the model looked (Grad-CAM, see
:mod:`fer.training.gradcam`).

Grad-CAM needs gradients, so it needs the Keras model and TensorFlow. A server that loaded
TensorFlow would keep it (a GB of memory, and Streamlit's per-rerun Keras clean-up, which starved
the live video), so :func:`explain_faces` given a model name or file runs it in a short-lived
worker process (:mod:`fer.training.explain_worker`) that exits when the maps are made. Given a
Keras model object (a caller that already has TensorFlow, e.g. tests and notebooks), it runs in
this process.

The heatmaps cover the same crop the classifier sees (the detector's box widened by the margin,
:data:`fer.vision.crop.FACE_MARGIN` unless the detector's own is passed), so
:func:`face_crops` and :func:`explain_faces` line up pixel for pixel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..emotions import EMOTIONS, resolve_targets
from ..errors import FerError
from ..vision.crop import FACE_MARGIN, Box, Margin, crop_face
from ..vision.preprocessing import faces_to_model_input

WORKER_TIMEOUT_S = 300
"""The worker imports TensorFlow and loads the model (seconds), then explains in well under one."""


def face_crops(
    image_rgb: np.ndarray, boxes: Sequence[Box], margin: Margin = FACE_MARGIN
) -> list[np.ndarray]:
    """RGB crops of each face with the classifier's margin (edges replicated past the border).
    Pass ``margin=fer.vision.preprocessing.margin_for(analyzer.detector.name)`` to get exactly the
    crop the analyzer classified; use the same margin for :func:`explain_faces`."""
    image = np.asarray(image_rgb)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return [np.ascontiguousarray(crop_face(image, tuple(int(v) for v in b), margin)) for b in boxes]


def _check_target(target: Any, n: int) -> Any:
    """The target as plain JSON values, checked before any work is done."""
    resolve_targets(target, n, np.zeros((n, len(EMOTIONS)), np.float32))
    if target is None or isinstance(target, str):
        return target
    if isinstance(target, (int, np.integer)):
        return int(target)
    return [None if t is None else (t if isinstance(t, str) else int(t)) for t in target]


def _installed_model(model: Any):
    """The :class:`fer.serving.registry.ModelInfo` of a model name, ModelInfo or path, whose
    ``.keras`` file (which Grad-CAM needs) is installed."""
    from ..serving.registry import ModelInfo, get_model_info

    info = model if isinstance(model, ModelInfo) else get_model_info(str(model))
    if not info.path.exists():
        raise FerError(f"explanations need the Keras model {info.path}, which is not installed")
    return info


def _gradcam_in_worker(keras_path: Path, batch: np.ndarray, target: Any) -> np.ndarray:
    if importlib.util.find_spec("tensorflow") is None:
        raise FerError(
            "explanations need TensorFlow, which this install does not have: "
            "pip install -r requirements.txt"
        )
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    with tempfile.TemporaryDirectory(prefix="fer-explain-") as tmp:
        request, answer = Path(tmp) / "request.npz", Path(tmp) / "maps.npy"
        np.savez(request, batch=batch, target=json.dumps(target), model=str(keras_path))
        try:
            done = subprocess.run(
                [sys.executable, "-m", "fer.training.explain_worker", str(request), str(answer)],
                env=env,
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise FerError(f"the explanation worker took over {WORKER_TIMEOUT_S} s") from None
        if done.returncode != 0 or not answer.exists():
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise FerError(
                f"the explanation worker failed: {lines[-1] if lines else done.returncode}"
            )
        return np.load(answer)


def explain_faces(
    model: Any,
    image_rgb: np.ndarray,
    boxes: Sequence[Box],
    target: Any = None,
    margin: Margin = FACE_MARGIN,
) -> list[np.ndarray]:
    """One heatmap per face: float32 (H, W) in [0, 1] with the shape of the face's crop from
    :func:`face_crops`; 1 marks what pushed the score of ``target`` most.

    ``model`` is a model name, a :class:`fer.serving.registry.ModelInfo` or a ``.keras`` path
    (explained in a worker process), or a Keras model object (explained here). ``target`` None
    explains each face's top class, an emotion name or index explains that class for every face, a
    sequence gives one per face. ``margin`` is the crop margin (see :func:`face_crops`)."""
    boxes = [tuple(int(v) for v in b) for b in boxes]
    if not boxes:
        return []
    target = _check_target(target, len(boxes))
    keras_model = hasattr(model, "layers") and hasattr(model, "input_shape")
    info = None if keras_model else _installed_model(model)
    size = int(model.input_shape[1]) if keras_model else info.input_size
    batch = faces_to_model_input(np.asarray(image_rgb), boxes, size, margin)
    if keras_model:
        from ..training.gradcam import gradcam

        maps, _ = gradcam(model, batch, target)
    else:
        maps = _gradcam_in_worker(info.path, batch, target)
    heatmaps = []
    for heat, crop in zip(maps, face_crops(image_rgb, boxes, margin)):
        h, w = crop.shape[:2]
        resized = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
        heatmaps.append(np.clip(resized, 0, 1).astype(np.float32))
    return heatmaps


def explain_analysis(
    analyzer, image_rgb: np.ndarray, faces: Sequence
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(crop, overlay)`` per face that ``analyzer`` found: the crop it classified and the
    heatmap of the label it gave (with TTA that may differ from the plain top class)."""
    boxes = [f.box for f in faces]
    heatmaps = explain_faces(
        analyzer.model_info or analyzer.model_name,
        image_rgb,
        boxes,
        target=[f.label for f in faces],
        margin=analyzer.margin,
    )
    crops = face_crops(image_rgb, boxes, analyzer.margin)
    return [(crop, overlay_heatmap(crop, heat)) for crop, heat in zip(crops, heatmaps)]


def overlay_heatmap(crop_rgb: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The crop with the heatmap blended over it in the JET colour map (RGB uint8)."""
    crop = np.asarray(crop_rgb)
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
    h, w = crop.shape[:2]
    heat = np.asarray(heatmap, np.float32)
    if heat.shape != (h, w):
        heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    blended = (1 - alpha) * crop.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
