"""Training-time augmentation as Keras layers. They sit in front of the network while it
trains, so they run wherever training runs (CPU threads or an accelerator, on any Keras
backend), and are absent from the shipped model."""

from __future__ import annotations

import functools


def augmentation_recipe(erase_probability: float, geometry: float = 0.1) -> str:
    """The augmentation as the model card describes it."""
    return (
        f"horizontal flip; random shift up to {geometry:.0%}; rotation up to 10 degrees; "
        f"zoom up to {geometry:.0%} (reflect fill); random erasing p={erase_probability:g} "
        "of 2-20% of the area"
    )


@functools.cache
def random_erasing_layer():
    """The ``RandomErasing`` layer class (defined on first use so that importing this module
    does not import Keras; registered so that checkpoints holding it load)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="fer")
    class RandomErasing(keras.layers.Layer):
        """Replace one random rectangle (2-20 % of the image, aspect 1/e..e) of each image
        with uniform noise, with ``probability``; identity outside training."""

        def __init__(
            self,
            probability: float = 0.5,
            min_area: float = 0.02,
            max_area: float = 0.2,
            seed: int | None = None,
            **kwargs,
        ):
            super().__init__(**kwargs)
            self.probability, self.min_area, self.max_area = probability, min_area, max_area
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=None):
            if not training or self.probability <= 0:
                return images
            n = ops.shape(images)[0]
            size = images.shape[1]
            gen = self.seed_generator
            area = keras.random.uniform((n,), self.min_area, self.max_area, seed=gen) * size * size
            aspect = ops.exp(keras.random.uniform((n,), -1.0, 1.0, seed=gen))
            h = ops.clip(ops.sqrt(area * aspect), 1.0, float(size))
            w = ops.clip(ops.sqrt(area / aspect), 1.0, float(size))
            y0 = keras.random.uniform((n,), seed=gen) * (size - h)
            x0 = keras.random.uniform((n,), seed=gen) * (size - w)
            apply = keras.random.uniform((n,), seed=gen) < self.probability
            grid = ops.cast(ops.arange(size), "float32")
            in_y = (grid[None, :] >= y0[:, None]) & (grid[None, :] < (y0 + h)[:, None])
            in_x = (grid[None, :] >= x0[:, None]) & (grid[None, :] < (x0 + w)[:, None])
            mask = in_y[:, :, None] & in_x[:, None, :] & apply[:, None, None]
            noise = keras.random.uniform(ops.shape(images), seed=gen, dtype=images.dtype)
            return ops.where(mask[..., None], noise, images)

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {
                **super().get_config(),
                "probability": self.probability,
                "min_area": self.min_area,
                "max_area": self.max_area,
                "seed": self.seed,
            }

    return RandomErasing


def build_augmenter(seed: int, erase_probability: float = 0.5, geometry: float = 0.1):
    """A Keras pipeline over float batches ``(N, 48, 48, 1)``; active only with training=True.
    ``geometry`` is the largest shift and zoom, as a fraction of the side."""
    import keras
    from keras import layers

    augmenter = keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(geometry, geometry, fill_mode="reflect", seed=seed + 1),
            layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed + 2),
            layers.RandomZoom(geometry, fill_mode="reflect", seed=seed + 3),
            random_erasing_layer()(erase_probability, seed=seed + 4, name="random_erasing"),
        ],
        name="augmenter",
    )
    allow_jit_on_jax(augmenter)
    return augmenter


def allow_jit_on_jax(augmenter) -> None:
    """Keras marks shift and zoom as not XLA-safe (a TensorFlow limitation); on JAX they trace
    fine, and without jit a training step is ~100x slower. The flag is not saved, so a loaded
    checkpoint needs this again."""
    import keras

    if keras.backend.backend() == "jax":
        for layer in augmenter.layers:
            layer.supports_jit = True
