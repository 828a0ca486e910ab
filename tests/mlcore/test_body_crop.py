"""The crop around the body (recipe option body_crop): where it is cut, what the
network then reads, and how its heatmap is placed back on the whole slice."""

from __future__ import annotations

import io

import numpy as np
import pytest
from factories import off_centre_slice_png as slice_png
from PIL import Image

from mlcore.body import CROP_MARGIN, body_box, body_mask, mask_outside_body
from mlcore.explain import place_in_slice
from mlcore.inference import load_classifier
from mlcore.preprocessing import WHOLE_SLICE, View, load_image, load_views


def test_the_box_is_a_square_around_the_body_with_a_margin():
    whole = load_image(slice_png(), 128)

    left, top, right, bottom = body_box(whole, 512, 512)

    assert right - left == bottom - top  # square
    # The body spans x 77-333 and y 102-308 of 512 (its ellipse), the table not at all.
    assert left < 77 - CROP_MARGIN * 512 / 2 and right > 333 + CROP_MARGIN * 512 / 2
    assert top < 102 and bottom > 308
    assert bottom < 0.75 * 512  # the table line is not what the square is built around
    assert right - left < 0.7 * 512  # the crop enlarges the body


def test_a_body_filling_the_frame_is_read_whole_not_shrunk():
    y, x = np.mgrid[:256, :256]
    whole = np.repeat(((x - 128) ** 2 / 126**2 + (y - 128) ** 2 / 126**2 <= 1)[..., None], 3, 2)

    assert body_box(whole.astype(np.float32) * 0.5, 256, 256) == (0, 0, 256, 256)


def test_the_box_is_given_in_the_slices_own_pixels():
    # The same body on a slice twice as wide: found on the squashed 128 px view, the
    # box is reported in the wide slice's pixels and is square there.
    wide = load_image(slice_png(1024, 512), 128)

    left, top, right, bottom = body_box(wide, 1024, 512)

    assert right - left == bottom - top
    assert 0.4 * 1024 - 10 < (left + right) / 2 < 0.4 * 1024 + 10  # the body's centre
    # The body is 512 px wide: its square is taller than the slice, so it is centred
    # on the slice's height and padded equally above and below.
    assert bottom - top > 512 and abs(top + bottom - 512) <= 1


def test_a_blank_frame_has_no_box_and_is_read_whole():
    blank = io.BytesIO()
    Image.new("L", (256, 256), 0).save(blank, "PNG")

    views = load_views(blank.getvalue(), 64, body_mask=True, body_crop=True)

    assert body_box(np.zeros((64, 64, 3), np.float32), 256, 256) is None
    assert views.box == WHOLE_SLICE
    assert np.array_equal(views.model_input, views.whole)


def test_the_crop_is_cut_from_the_full_resolution_slice_and_fills_the_input():
    png = slice_png()

    views = load_views(png, 128, body_crop=True)
    masked = load_views(png, 128, body_crop=True, body_mask=True)

    assert views.whole.shape == views.model_input.shape == (128, 128, 3)
    assert np.array_equal(views.whole, load_image(png, 128))  # the check reads it whole
    assert body_mask(views.model_input).mean() > 2 * body_mask(views.whole).mean()
    left, top, right, bottom = views.box
    assert 0 < left < right < 1 and 0 < top < bottom < 1
    # The crop is the slice's own pixels in that box, resized once (not an
    # enlargement of the 128 px whole view).
    square = tuple(round(edge * 512) for edge in views.box)
    expected = Image.open(io.BytesIO(png)).crop(square).resize((128, 128), Image.BILINEAR)
    assert np.allclose(views.model_input[..., 0], np.asarray(expected) / 255.0, atol=1e-6)
    assert np.array_equal(load_image(png, 128, body_crop=True), views.model_input)
    # Masking follows the crop: the table line's remains are blacked out.
    assert masked.model_input.sum() <= views.model_input.sum()


def test_real_slices_are_cropped_around_the_body(sample_dir):
    for name in ("Cyst- (1).jpg", "Normal- (200).jpg", "Stone- (50).jpg", "Tumor- (300).jpg"):
        path = sample_dir / name.split("-")[0] / name

        views = load_views(path, 128, body_mask=True, body_crop=True)

        left, top, right, bottom = views.box
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1, path  # inside the slice
        assert right - left > 0.4, path
        # The body fills at least as much of the input (a wide patient: the whole slice).
        assert body_mask(views.model_input).mean() >= body_mask(views.whole).mean() - 0.01, path


def test_each_view_is_masked_with_its_own_body(sample_dir):
    # load_views finds the whole slice's body once and reuses it for the whole view;
    # a crop is masked with the body found on the crop. Stone 50 tells them apart.
    path = sample_dir / "Stone" / "Stone- (50).jpg"

    crop = load_views(path, 128, body_crop=True).model_input
    whole = load_views(path, 128).whole

    masked_crop = load_views(path, 128, body_crop=True, body_mask=True).model_input
    assert np.array_equal(masked_crop, mask_outside_body(crop))
    assert not np.array_equal(masked_crop, crop * body_mask(whole)[..., None])
    masked_whole = load_views(path, 128, body_mask=True).model_input
    assert np.array_equal(masked_whole, mask_outside_body(whole))
    views = (View(body_mask=True), View(body_mask=True, body_crop=True))
    both = load_views(path, 128, views=views).model_input
    assert np.array_equal(both[0], masked_whole) and np.array_equal(both[1], masked_crop)


def test_a_heatmap_of_the_whole_slice_is_left_as_it_is():
    heat = np.random.default_rng(0).random((16, 16)).astype(np.float32)

    assert place_in_slice(heat, WHOLE_SLICE) is heat


def test_a_crops_heatmap_lands_where_the_crop_lies_in_the_slice():
    heat = np.zeros((64, 64), np.float32)
    heat[24:40, 24:40] = 1.0  # hot in the middle of the crop

    placed = place_in_slice(heat, (0.5, 0.0, 1.0, 0.5))  # the crop is the top-right quarter

    assert placed.shape == (64, 64)
    assert placed.max() == pytest.approx(1.0)
    hot_rows, hot_columns = np.nonzero(placed > 0.5)
    assert hot_columns.min() >= 32 + 12 - 2 and hot_columns.max() <= 32 + 20 + 2
    assert hot_rows.min() >= 12 - 2 and hot_rows.max() <= 20 + 2
    assert placed[32:].max() == 0 and placed[:, :32].max() == 0  # nothing outside the crop


def test_a_crop_reaching_past_the_edge_keeps_only_what_lies_in_the_slice():
    heat = np.ones((32, 32), np.float32)

    placed = place_in_slice(heat, (-0.25, 0.5, 0.75, 1.5))

    assert placed[16:, :24].min() == pytest.approx(1.0)
    assert placed[:16].max() == 0 and placed[:, 25:].max() == 0


@pytest.fixture
def cropping_version(view_members):
    """One epoch of real training with body_crop (and body_mask) on: the cropping
    network of tests/conftest.py's view_members, trained once for the session."""
    _, configs, members = view_members
    assert configs[1].body_crop
    return members[1]


def test_a_version_trained_on_crops_records_it_and_serving_follows(cropping_version):
    classifier = load_classifier(cropping_version)
    png = slice_png()

    reading = classifier.classify_batch([png])[0]

    assert classifier.metadata["preprocessing"]["body_crop"] is True
    assert classifier.body_crop and classifier.body_mask
    views = classifier.read(png)
    assert views.box != WHOLE_SLICE
    expected = classifier.predict_arrays(views.model_input[None])[0]
    assert reading.probabilities == pytest.approx(
        dict(zip(classifier.class_names, expected, strict=True))
    )
    with pytest.raises(ValueError, match="reads a crop"):
        classifier.model_input(views.whole[None])


def test_the_heatmap_of_a_cropping_version_covers_only_the_crop(cropping_version):
    from mlcore.explain import GradCam

    explainer = GradCam.from_version(cropping_version)
    png = slice_png()

    heat = explainer.slice_heatmap(png, 0)

    assert explainer.body_crop
    assert heat.shape == (explainer.image_size,) * 2
    left, top, right, bottom = (round(e * explainer.image_size) for e in load_views(
        png, explainer.image_size, body_crop=True).box)  # fmt: skip
    outside = np.ones_like(heat, bool)
    outside[max(top, 0) : bottom, max(left, 0) : right] = False
    assert heat[outside].max() == 0
