"""Mixup and CutMix batches: the labels carry exactly the share of each face in the pixels."""

import numpy as np
import pytest

from fer.training.mixing import mix_batch, mixed_batches, mixing_recipe


def _batch(n=16, size=48):
    rng = np.random.default_rng(0)
    # each image is constant at its own index, so a pixel tells which face it came from
    x = np.repeat(np.arange(n, dtype=np.float32), size * size).reshape(n, size, size, 1)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]
    return x, y


def test_cutmix_labels_match_the_pasted_area():
    x, y = _batch()
    rng = np.random.default_rng(3)
    for _ in range(20):
        mixed, labels = mix_batch(x, y, "cutmix", 1.0, rng)
        assert np.allclose(labels.sum(1), 1)
        for i in range(len(x)):
            own = float((mixed[i] == i).mean())
            partner = int(mixed[i][mixed[i] != i][0]) if own < 1 else i
            expected = own * y[i] + (1 - own) * y[partner]
            assert np.allclose(labels[i], expected, atol=1e-6)


def test_mixup_blends_images_and_labels_by_one_weight():
    x, y = _batch()
    mixed, labels = mix_batch(x, y, "mixup", 0.4, np.random.default_rng(1))
    assert mixed.dtype == x.dtype and mixed.shape == x.shape
    assert not np.array_equal(mixed, x)
    assert np.allclose(labels.sum(1), 1)
    # pixel value = lam * i + (1 - lam) * partner; with distinct classes the label weight is lam
    values = mixed[:, 0, 0, 0]
    assert np.all((values >= 0) & (values <= len(x) - 1))
    assert np.allclose(mixed, values[:, None, None, None])  # whole-image blend


def test_no_mixing_and_bad_mode():
    x, y = _batch()
    same = mix_batch(x, y, "none", 0.4, np.random.default_rng(0))
    assert same[0] is x and same[1] is y
    with pytest.raises(ValueError, match="unknown mix mode"):
        mix_batch(x, y, "blend", 0.4, np.random.default_rng(0))


def test_mixed_batches_cover_every_image_once_per_epoch():
    x, y = _batch(n=50)
    data = mixed_batches(x, y, batch_size=16, mode="cutmix", alpha=1.0, probability=0.0, seed=0)
    assert len(data) == 4
    seen = np.concatenate([data[i][0][:, 0, 0, 0] for i in range(len(data))])
    assert sorted(seen.tolist()) == list(range(50))
    data.on_epoch_end()
    again = np.concatenate([data[i][0][:, 0, 0, 0] for i in range(len(data))])
    assert sorted(again.tolist()) == list(range(50)) and not np.array_equal(seen, again)
    mixing = mixed_batches(x, y, 16, "cutmix", 1.0, probability=1.0, seed=0)
    assert any(
        not np.array_equal(mixing[i][1].max(1), np.ones(len(mixing[i][1])))
        for i in range(len(mixing))
    )


def test_recipe_text():
    assert mixing_recipe("none", 0.4, 0.5) == ""
    assert "CutMix with Beta(1, 1) on 50% of batches" in mixing_recipe("cutmix", 1.0, 0.5)
