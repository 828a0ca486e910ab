from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from factories import encode, synthetic_slice
from PIL import Image

from mlcore.preprocessing import (
    CorruptImageError,
    ImageTooLargeError,
    UnsupportedFormatError,
    load_image,
)


def test_png_becomes_rgb_float_array_of_model_size():
    array = load_image(encode(synthetic_slice(0, 1)), 96)

    assert array.shape == (96, 96, 3)
    assert array.dtype == np.float32
    assert array.min() >= 0.0
    assert array.max() <= 1.0
    assert np.array_equal(array[..., 0], array[..., 2])  # grey stays grey


def test_same_pixels_give_identical_input_from_png_and_from_decoded_jpeg():
    jpeg = encode(synthetic_slice(2, 3), "JPEG", quality=90)
    decoded = Image.open(io.BytesIO(jpeg))

    assert np.array_equal(load_image(jpeg, 64), load_image(encode(decoded, "PNG"), 64))


@pytest.mark.parametrize("size", [64, 96, 128])
def test_grey_slice_gives_the_same_input_as_the_same_slice_saved_as_rgb(size):
    grey = synthetic_slice(4, 2)

    assert np.array_equal(
        load_image(encode(grey), size), load_image(encode(grey.convert("RGB")), size)
    )


def test_path_bytes_and_file_object_give_the_same_input(tmp_path):
    data = encode(synthetic_slice(1, 1))
    path = tmp_path / "slice.png"
    path.write_bytes(data)

    from_bytes = load_image(data, 48)
    assert np.array_equal(from_bytes, load_image(path, 48))
    assert np.array_equal(from_bytes, load_image(str(path), 48))
    assert np.array_equal(from_bytes, load_image(io.BytesIO(data), 48))


def test_resize_uses_the_documented_bilinear_filter():
    image = synthetic_slice(3, 1, size=256).convert("RGB")
    expected = np.asarray(image.resize((96, 96), Image.Resampling.BILINEAR)) / 255.0

    assert np.allclose(load_image(encode(image), 96), expected, atol=1e-7)


@pytest.mark.parametrize(
    ("mode", "pixel"),
    [("I;16", 65535), ("RGBA", (255, 255, 255, 255)), ("CMYK", (0, 0, 0, 0)), ("P", 1)],
)
def test_odd_but_valid_modes_become_rgb(mode, pixel):
    image = Image.new(mode, (20, 20), pixel)
    data = encode(image, "JPEG" if mode == "CMYK" else "PNG")

    array = load_image(data, 16)

    assert array.shape == (16, 16, 3)
    assert np.isfinite(array).all()


def test_sixteen_bit_png_uses_its_whole_range():
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)

    array = load_image(encode(Image.fromarray(ramp)), 64)

    assert array.max() > 0.99
    assert array.min() == 0.0


def test_transparent_pixels_count_as_black():
    image = Image.new("RGBA", (10, 10), (255, 255, 255, 0))

    assert load_image(encode(image), 10).max() == 0.0


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_image_formats_are_refused(image_format):
    data = encode(Image.new("RGB", (8, 8)), image_format)

    with pytest.raises(UnsupportedFormatError, match="Not a JPEG, PNG or DICOM"):
        load_image(data, 8)


@pytest.mark.parametrize("data", [b"%PDF-1.4 hello", b"<html>x</html>", b"\x00" * 100])
def test_non_images_are_refused(data):
    with pytest.raises(UnsupportedFormatError):
        load_image(data, 8)


def test_empty_file_is_refused():
    with pytest.raises(CorruptImageError, match="empty"):
        load_image(b"", 8)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_truncated_file_is_refused_as_corrupt(image_format):
    data = encode(synthetic_slice(0, 1), image_format)

    with pytest.raises(CorruptImageError, match="damaged"):
        load_image(data[: len(data) // 2], 8)


def test_missing_file_is_refused_as_unreadable(tmp_path):
    with pytest.raises(CorruptImageError, match="Cannot read"):
        load_image(tmp_path / "missing.png", 8)


def test_image_over_the_pixel_limit_is_refused():
    data = encode(Image.new("L", (300, 300)))

    with pytest.raises(ImageTooLargeError, match="300x300"):
        load_image(data, 8, max_pixels=200 * 200)


def test_decompression_bomb_header_is_refused_without_decoding():
    # A valid PNG header claiming 50,000 x 50,000 pixels followed by almost no data.
    png = encode(Image.new("L", (1, 1)))
    ihdr = b"IHDR" + (50_000).to_bytes(4, "big") * 2 + png[24:29]
    bomb = png[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + png[33:]

    with pytest.raises(ImageTooLargeError, match="pixels"):
        load_image(bomb, 8)
