"""Grad-CAM on a real (small) network trained here to find a bright spot anywhere."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mlcore.explain import GradCam
from mlcore.heatmaps import overlay_png
from mlcore.model import make_model

SIZE = 64


def slice_with_spot(rng, spot: tuple[int, int] | None) -> np.ndarray:
    """A grey disc (the body) with, for class 1, a bright 6x6 spot at ``spot``."""
    y, x = np.mgrid[:SIZE, :SIZE]
    image = np.where((x - 32) ** 2 + (y - 32) ** 2 < 28**2, 0.35, 0.0)
    image = image + rng.normal(0, 0.03, image.shape)
    if spot is not None:
        top, left = spot
        image[top : top + 6, left : left + 6] = 1.0
    return np.repeat(np.clip(image, 0, 1)[..., None], 3, axis=2).astype(np.float32)


@pytest.fixture(scope="module")
def spot_finder(tmp_path_factory):
    # Deterministic kernels, as in mlcore.training: the same network on every run
    # (multi-threaded kernels made it differ from run to run, and sometimes miss).
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    images, labels = [], []
    for i in range(600):
        has_spot = i % 2 == 1
        spot = tuple(int(v) for v in rng.integers(10, 48, 2)) if has_spot else None
        images.append(slice_with_spot(rng, spot))
        labels.append(int(has_spot))
    model = make_model(image_size=SIZE, num_classes=2, weights="none")
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    model.fit(np.stack(images), np.array(labels), epochs=6, batch_size=32, verbose=0)
    folder = tmp_path_factory.mktemp("spot-finder")
    model.save(folder / "model.keras")
    (folder / "metadata.json").write_text('{"preprocessing": {"body_mask": false}}')
    return GradCam.from_version(folder), model


def test_heatmap_has_the_image_shape_and_is_finite_in_zero_one(spot_finder):
    explainer, _ = spot_finder
    heat = explainer.heatmap(slice_with_spot(np.random.default_rng(0), (14, 14)), 1)
    assert heat.shape == (SIZE, SIZE)
    assert heat.dtype == np.float32
    assert np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)


def test_heatmap_is_hottest_around_the_spot_wherever_it_is(spot_finder):
    # One position can fall between the coarse feature map's cells (4x4 at 64 px), so
    # the property is measured over twenty: around the spot, the heat is well above
    # the slice's mean (1.8-2.4x with seeds 4 and 5; 1.0 would be no localisation).
    explainer, model = spot_finder
    rng = np.random.default_rng(1)
    ratios = []
    for _ in range(20):
        top, left = (int(v) for v in rng.integers(10, 48, 2))
        image = slice_with_spot(rng, (top, left))
        assert model(image[None], training=False).numpy()[0, 1] > 0.5  # it sees the spot
        heat = explainer.heatmap(image, 1)
        around = heat[max(top - 5, 0) : top + 11, max(left - 5, 0) : left + 11]
        ratios.append(around.mean() / heat.mean())
    assert np.median(ratios) > 1.4


def test_overlay_is_a_transparent_png_of_the_heatmap():
    from io import BytesIO

    from PIL import Image

    heat = np.zeros((8, 8), np.float32)
    heat[2, 3] = 1.0
    overlay = Image.open(BytesIO(overlay_png(heat)))
    assert overlay.mode == "RGBA" and overlay.size == (8, 8)
    alpha = np.asarray(overlay)[..., 3]
    assert alpha[2, 3] == 255 and alpha.sum() == 255
