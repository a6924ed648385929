"""The two network architectures. Both take ``(48, 48, 1)`` float inputs in [0, 1] and give
7 softmax probabilities in the canonical order. Training and inference share the builders.

Budgets on this 2-core CPU (measured ~18 GMAC/s at batch 1) shaped them:
- shallow: ~12 M multiply-adds, so one face takes under 1 ms; a strided stem and depthwise-
  separable blocks (as in MobileNet / mini-Xception) keep width where the compute is cheap.
- deep: a VGG-style stack (the family behind the best single-network FER2013 results), with
  one conv at full resolution and two per block below it. The shipped deep model averages two
  of these trained with different recipes (:mod:`fer.ensemble`).
"""

from __future__ import annotations

from ..vision.preprocessing import INPUT_SIZE

ARCHITECTURES = ("shallow", "deep")


def _bn_relu(x, name: str):
    from keras import layers

    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _conv(x, filters: int, name: str, strides: int = 1):
    from keras import layers

    x = layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    return _bn_relu(x, name)


def _sepconv(x, filters: int, name: str):
    from keras import layers

    x = layers.SeparableConv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        depthwise_initializer="he_normal",
        pointwise_initializer="he_normal",
        name=f"{name}_sep",
    )(x)
    return _bn_relu(x, name)


def _head(x, dense_units: int, dropout: float, name: str, inputs):
    import keras
    from keras import layers

    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    if dense_units:
        x = layers.Dense(dense_units, use_bias=False, name="fc")(x)
        x = _bn_relu(x, "fc")
        x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(7, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def build_shallow(input_size: int = INPUT_SIZE):
    """Live-video model (~12 M MACs): strided stem, three separable blocks, linear head."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = _conv(inputs, 32, "stem", strides=2)  # 24x24
    for b, width in enumerate((64, 128, 256), start=1):
        x = _sepconv(x, width, f"block{b}_1")
        x = _sepconv(x, width, f"block{b}_2")
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)  # 12, 6, 3
    return _head(x, 0, 0.3, "shallow", inputs)


def build_deep(input_size: int = INPUT_SIZE):
    """Accuracy model (~385 M MACs): VGG-style 64 | 128x2 | 256x2 | 512x2, 512-unit head."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = _conv(inputs, 64, "block1_1")
    x = layers.MaxPooling2D(2, name="block1_pool")(x)  # 24
    for b, width in enumerate((128, 256, 512), start=2):
        x = _conv(x, width, f"block{b}_1")
        x = _conv(x, width, f"block{b}_2")
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)  # 12, 6, 3
    return _head(x, 512, 0.4, "deep", inputs)


def build(arch: str, input_size: int = INPUT_SIZE):
    """Build an untrained network by architecture name."""
    if arch == "shallow":
        return build_shallow(input_size)
    if arch == "deep":
        return build_deep(input_size)
    raise ValueError(f"unknown architecture {arch!r}; choose {' or '.join(ARCHITECTURES)}")
