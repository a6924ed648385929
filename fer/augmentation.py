"""Training-time augmentation, run batched in the tf.data pipeline (never at inference)."""

from __future__ import annotations

def augmentation_recipe(erase_probability: float) -> str:
    """The augmentation as the model card describes it."""
    return ("horizontal flip; random shift up to 10%; rotation up to 10 degrees; zoom up to 10% "
            f"(reflect fill); random erasing p={erase_probability:g} of 2-20% of the area")


def build_augmenter(seed: int):
    """A Keras pipeline applied to float batches ``(N, 48, 48, 1)`` in training mode."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed + 1),
            layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed + 2),
            layers.RandomZoom(0.1, fill_mode="reflect", seed=seed + 3),
        ],
        name="augmenter",
    )


def random_erasing(batch, seed_tensor, probability: float = 0.5, min_area: float = 0.02,
                   max_area: float = 0.2):
    """Erase one random rectangle per image (with ``probability``), filled with noise."""
    import tensorflow as tf

    n = tf.shape(batch)[0]
    size = tf.shape(batch)[1]
    sizef = tf.cast(size, tf.float32)
    seeds = tf.random.experimental.stateless_split(seed_tensor, 6)
    area = tf.random.stateless_uniform([n], seeds[0], min_area, max_area) * sizef * sizef
    aspect = tf.exp(tf.random.stateless_uniform([n], seeds[1], -1.0, 1.0))
    h = tf.clip_by_value(tf.sqrt(area * aspect), 1.0, sizef)
    w = tf.clip_by_value(tf.sqrt(area / aspect), 1.0, sizef)
    y0 = tf.random.stateless_uniform([n], seeds[2]) * (sizef - h)
    x0 = tf.random.stateless_uniform([n], seeds[3]) * (sizef - w)
    apply = tf.random.stateless_uniform([n], seeds[4]) < probability
    grid = tf.cast(tf.range(size), tf.float32)
    in_y = (grid[None, :] >= y0[:, None]) & (grid[None, :] < (y0 + h)[:, None])
    in_x = (grid[None, :] >= x0[:, None]) & (grid[None, :] < (x0 + w)[:, None])
    mask = in_y[:, :, None] & in_x[:, None, :] & apply[:, None, None]
    noise = tf.random.stateless_uniform(tf.shape(batch), seeds[5])
    return tf.where(mask[..., None], noise, batch)
