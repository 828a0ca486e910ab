from __future__ import annotations

import numpy as np
import pytest

from mlcore import data
from mlcore.body import (
    FILLS_FRAME,
    attention_in_body,
    body_mask,
    fills_frame_height,
    mask_outside_body,
)
from mlcore.preprocessing import load_image


def synthetic_ct(fat: float, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A body (ellipse) of fat at grey level ``fat``, organs spread inside it, a table
    line below it and burnt-in text in a corner; returns the image and the true body."""
    y, x = np.mgrid[:size, :size]
    body = ((x - 64) / 50) ** 2 + ((y - 58) / 38) ** 2 <= 1
    image = np.zeros((size, size), np.float32)
    image[body] = fat
    for cx, cy in ((30, 58), (98, 58), (64, 30), (64, 86), (64, 58)):  # organs
        image[((x - cx) / 14) ** 2 + ((y - cy) / 12) ** 2 <= 1] = 0.6
    image[104:106, 10:118] = 0.7  # the scanner table, 2 px thick, below the body
    image[4:9, 4:24:3] = 1.0  # text: thin strokes in the top-left corner
    return image, body


@pytest.mark.parametrize(("fat", "overlap"), [(0.3, 0.95), (0.0, 0.7)])
def test_body_mask_keeps_the_body_and_drops_the_table_and_the_text(fat, overlap):
    image, body = synthetic_ct(fat)  # fat 0.0: a narrow window shows fat as black as air

    mask = body_mask(image)

    assert (mask & body).sum() / (mask | body).sum() > overlap
    assert mask[~body].mean() < 0.01
    assert not mask[104:106].any()  # table
    assert not mask[:10, :25].any()  # text


def test_body_mask_of_a_blank_frame_is_empty_and_masking_leaves_it_as_it_is():
    blank = np.zeros((64, 64, 3), np.float32)

    assert not body_mask(blank).any()
    assert mask_outside_body(blank) is blank


def test_masking_blacks_out_only_what_lies_outside_the_body():
    grey, _ = synthetic_ct(0.3)
    image = np.repeat(grey[..., None], 3, axis=2)

    masked = mask_outside_body(image)

    assert masked.shape == image.shape
    assert masked[104:106].max() == 0  # the table is gone
    inside = body_mask(image)
    assert np.array_equal(masked[inside], image[inside])


def test_body_mask_on_real_slices_covers_the_middle_not_the_corners(sample_dir):
    _, items = data.list_images_in([sample_dir])
    for item in items[::200]:
        image = load_image(item.path, 128)

        mask = body_mask(image)

        assert 0.15 < mask.mean() < 0.9, item.path
        assert mask[48:80, 48:80].mean() > 0.9, item.path
        assert not mask[0, 0] and not mask[-1, -1], item.path


def test_load_image_can_mask_the_body_and_is_unchanged_without_it(sample_dir):
    path = sample_dir / "Stone" / "Stone- (1).jpg"

    plain = load_image(path, 128)
    masked = load_image(path, 128, body_mask=True)

    assert np.array_equal(masked, mask_outside_body(plain))
    assert masked.sum() < plain.sum()


def test_attention_in_body_is_the_share_of_heat_inside_the_mask():
    mask = np.zeros((4, 4), bool)
    mask[:, :2] = True
    heat = np.zeros((4, 4))
    heat[0, 0], heat[0, 3] = 3.0, 1.0  # three quarters of the mass inside

    assert attention_in_body(heat, mask) == pytest.approx(0.75)
    assert attention_in_body(np.zeros((4, 4)), mask) is None
    assert attention_in_body(heat, np.zeros((4, 4), bool)) is None
    with pytest.raises(ValueError, match="differ in shape"):
        attention_in_body(heat, np.ones((2, 2), bool))


def _mask(top: int, bottom: int, size: int = 100) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[top:bottom, 30:70] = True
    return mask


def test_a_body_fills_the_frame_when_it_spans_its_height():
    assert fills_frame_height(_mask(0, 100)) is True  # a plain bool (the ORM stores it)
    assert fills_frame_height(_mask(3, 100))  # 97 of 100 rows
    assert not fills_frame_height(_mask(20, 80))  # an axial cross-section
    assert fills_frame_height(_mask(0, round(100 * FILLS_FRAME)))  # 93 of 100 rows
    assert not fills_frame_height(_mask(0, round(100 * FILLS_FRAME) - 1))
    assert not fills_frame_height(np.zeros((100, 100), bool))  # no body
