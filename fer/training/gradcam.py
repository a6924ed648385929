"""Grad-CAM (Selvaraju et al., 2017) on the Keras model: where in the face the model looked.

Grad-CAM weights the feature maps of the network's last convolution by the gradient of the class
score, averaged over each map, and keeps the positive part: the regions whose features pushed
the score up. The class score is the pre-softmax logit when the model ends in a softmax
``Dense`` layer (as ours do), else the output probability. A model without a convolution, or a
face whose map comes out flat, falls back to gradient saliency (the absolute gradient of the
score with respect to the input pixels, blurred). Serving reaches this through
:func:`fer.output.explain.explain_faces`, in a worker process (:mod:`fer.training.explain_worker`).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import cv2
import numpy as np

from ..emotions import resolve_targets

_CONV_TYPES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")
_cache: dict[int, tuple[Any, Any]] = {}
_cache_lock = threading.Lock()


def last_conv_layer(model):
    """The model's last convolution layer (searched by type, nested models included), or None."""
    import keras

    conv_classes = tuple(getattr(keras.layers, n) for n in _CONV_TYPES if hasattr(keras.layers, n))
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            inner = last_conv_layer(layer)
            if inner is not None:
                return inner
        elif isinstance(layer, conv_classes):
            return layer
    return None


def _explainer(model):
    """(a Keras model giving [conv maps or None, scores], whether scores are logits), cached
    per model."""
    key = id(model)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0]() is model:
            return hit[1]
    import keras

    conv = last_conv_layer(model)
    final = model.layers[-1]
    logits = (
        isinstance(final, keras.layers.Dense)
        and getattr(final.activation, "__name__", "") == "softmax"
    )
    head_input = final.input if logits else model.output
    try:
        outputs = [conv.output, head_input] if conv is not None else [head_input]
        graph = keras.Model(model.inputs, outputs)
    except (ValueError, AttributeError):  # a conv inside a nested model: no graph path to it
        conv = None
        graph = keras.Model(model.inputs, [head_input])
    explainer = (graph, conv is not None, final if logits else None)
    with _cache_lock:
        _cache[key] = (weakref.ref(model), explainer)
    return explainer


def _normalise(maps: np.ndarray) -> np.ndarray:
    out = np.zeros_like(maps, dtype=np.float32)
    for i, m in enumerate(maps):
        lo, hi = float(m.min()), float(m.max())
        if hi - lo > 1e-12:
            out[i] = (m - lo) / (hi - lo)
    return out


def gradcam(model, batch: np.ndarray, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (N, h, w) in [0, 1] at the network's resolution, and the class indices used.
    An ensemble's map is the mean of its members' maps for the class the ensemble chose."""
    import tensorflow as tf

    from .ensemble import ensemble_members
    from .tf_runtime import import_tensorflow

    import_tensorflow()
    members = ensemble_members(model)
    if members:
        predicted = model(tf.convert_to_tensor(batch, tf.float32), training=False).numpy()
        targets = resolve_targets(target, len(batch), predicted)
        maps = np.mean([gradcam(member, batch, targets)[0] for member in members], axis=0)
        return _normalise(maps), targets
    graph, has_conv, head = _explainer(model)
    x = tf.convert_to_tensor(batch, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outs = graph(x, training=False)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        conv_maps, features = (outs[0], outs[1]) if has_conv else (None, outs[0])
        scores = (tf.matmul(features, head.kernel) + head.bias) if head is not None else features
        probs = tf.nn.softmax(scores) if head is not None else scores
        targets = resolve_targets(target, int(x.shape[0]), probs.numpy())
        chosen = tf.gather(scores, targets, axis=1, batch_dims=1)
        total = tf.reduce_sum(chosen)
    cams = np.zeros((len(batch), *batch.shape[1:3]), np.float32)
    flat = np.ones(len(batch), bool)
    if has_conv:
        grads = tape.gradient(total, conv_maps)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        raw = tf.nn.relu(tf.reduce_sum(weights * conv_maps, axis=-1)).numpy()
        size = batch.shape[1:3]
        for i, cam in enumerate(raw):
            if float(cam.max()) > 1e-8 * max(1.0, float(np.abs(conv_maps[i]).max())):
                cams[i] = cv2.resize(
                    cam.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_CUBIC
                )
                flat[i] = False
    if flat.any():  # saliency: how much each input pixel moves the score
        grads = np.abs(tape.gradient(total, x).numpy()[..., 0])
        for i in np.flatnonzero(flat):
            cams[i] = cv2.GaussianBlur(grads[i], (0, 0), sigmaX=max(1.0, batch.shape[1] / 24))
    del tape
    return _normalise(np.maximum(cams, 0)), targets
