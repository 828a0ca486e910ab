"""DICOM files written by pydicom in the test, as a CT scanner would store them."""

from __future__ import annotations

import numpy as np
import pytest
from factories import ct_dicom, encode, expected_grey, hounsfield_slice
from PIL import Image
from pydicom.uid import JPEG2000Lossless

from mlcore.dicom import Window
from mlcore.preprocessing import (
    CorruptImageError,
    ImageTooLargeError,
    UnsupportedFormatError,
    load_image,
    open_image,
)


def test_ct_slice_is_converted_to_hounsfield_units_and_windowed():
    units = hounsfield_slice()
    image = open_image(ct_dicom(units, slope=0.5, intercept=-1024.0))

    assert image.mode == "L"
    assert image.format == "DICOM"
    assert np.array_equal(np.asarray(image), expected_grey(units))
    grey = np.asarray(image)
    assert grey[0, 0] == 0  # air is black
    assert grey[32, 40] == round((40 + 160) / 400 * 255)  # tissue mid-grey
    assert grey[32, 23] == 255  # the stone saturates


def test_window_can_be_chosen_per_upload():
    units = hounsfield_slice()
    image = open_image(ct_dicom(units), window=Window(level=300, width=1500))
    assert np.array_equal(np.asarray(image), expected_grey(units, 300, 1500))


def test_monochrome1_shows_the_lowest_value_white():
    units = hounsfield_slice()
    normal = np.asarray(open_image(ct_dicom(units)))
    monochrome1 = np.asarray(open_image(ct_dicom(units, photometric="MONOCHROME1")))
    assert np.array_equal(monochrome1, 255 - normal)


def test_dicom_takes_the_same_path_as_png_after_windowing():
    units = hounsfield_slice()
    from_dicom = load_image(ct_dicom(units), 32)
    from_png = load_image(encode(Image.fromarray(expected_grey(units))), 32)
    assert np.array_equal(from_dicom, from_png)


def test_only_displayed_fields_are_kept():
    info = open_image(ct_dicom(hounsfield_slice())).info["dicom"]
    assert info == {
        "modality": "CT",
        "study_date": "20260301",
        "slice_thickness_mm": 5.0,
        "pixel_spacing_mm": [0.7, 0.7],
        "window": {"level": 40.0, "width": 400.0},
    }
    assert "Doe" not in repr(info) and "ID-123" not in repr(info)


def test_multi_frame_file_is_refused_clearly():
    with pytest.raises(UnsupportedFormatError, match="holds 3 frames; upload one slice"):
        open_image(ct_dicom(hounsfield_slice(), frames=3))


def test_undecodable_compression_is_refused_clearly():
    data = ct_dicom(hounsfield_slice(), syntax=JPEG2000Lossless)
    with pytest.raises(UnsupportedFormatError, match="compressed as JPEG 2000"):
        open_image(data)


def test_truncated_dicom_is_corrupt():
    data = ct_dicom(hounsfield_slice())
    with pytest.raises((CorruptImageError, UnsupportedFormatError)):
        open_image(data[: len(data) // 2])


def test_dicom_over_the_pixel_limit_is_refused():
    with pytest.raises(ImageTooLargeError):
        open_image(ct_dicom(hounsfield_slice()), max_pixels=100)


def test_compression_pydicom_can_decode_is_read():
    import io

    import pydicom
    from pydicom.uid import RLELossless

    dataset = pydicom.dcmread(io.BytesIO(ct_dicom(hounsfield_slice())))
    dataset.compress(RLELossless)  # pydicom's own encoder, no extra libraries
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)

    image = open_image(buffer.getvalue())
    assert np.array_equal(np.asarray(image), expected_grey(hounsfield_slice()))
