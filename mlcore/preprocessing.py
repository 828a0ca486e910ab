"""The one function that turns an image file into model input.

Training and serving both call :func:`load_image`, so the resize filter, the
colour conversion and the scaling can never drift apart (the Streamlit demo
trained with nearest-neighbour resizing and served with PIL's default filter).
JPEG and PNG are decoded by Pillow; DICOM is windowed to 8-bit grey first
(:mod:`mlcore.dicom`) and then takes the same path.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from mlcore import body
from mlcore.body import body_box, mask_outside_body
from mlcore.dicom import ABDOMEN, DicomError, Window, is_dicom, read_dicom

ACCEPTED_FORMATS = ("JPEG", "PNG")
# The plane of a slice is judged on its body mask at this size (the rule's threshold,
# mlcore.body.FILLS_FRAME, was set on the 6,064 real slices at 128 px; at 224 px a
# few coronal bodies measure shorter), whatever size the network reads.
PLANE_SIZE = 128
RESIZE_FILTER = Image.Resampling.BILINEAR
# A CT slice is 512 x 512; 4,096 x 4,096 is generous, and its worst case (a 16-bit
# PNG or DICOM) is measured in docs/reliability.md.
DEFAULT_MAX_PIXELS = 4096 * 4096

ImageSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO
# The part of the slice a network reads: (left, top, right, bottom) as fractions of
# the slice's width and height; a crop around the body may reach past 0 and 1.
WHOLE_SLICE = (0.0, 0.0, 1.0, 1.0)


class ImageError(ValueError):
    """The file cannot be turned into model input."""


class UnsupportedFormatError(ImageError):
    """The file is not one of the accepted formats (JPEG, PNG, DICOM), or a DICOM
    variant that cannot be read (colour, multi-frame, undecodable compression)."""


class CorruptImageError(ImageError):
    """The file claims an accepted format but cannot be decoded."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than allowed (decompression bomb guard)."""

    def __init__(self, message: str, *, pixels: int | None = None):
        super().__init__(message)
        self.pixels = pixels  # what the header declares, when it was read


def open_image(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, window: Window = ABDOMEN
) -> Image.Image:
    """Open, verify and fully decode an accepted image; raise ImageError otherwise.

    DICOM slices are windowed (``window``, abdominal by default) to 8-bit grey.
    """
    data = _read_bytes(source)
    if not data:
        raise CorruptImageError("The file is empty.")
    if is_dicom(data):
        try:
            return read_dicom(data, window=window, max_pixels=max_pixels)
        except DicomError as exc:
            if exc.kind == "too_large":
                raise ImageTooLargeError(str(exc), pixels=exc.pixels) from exc
            error = CorruptImageError if exc.kind == "corrupt" else UnsupportedFormatError
            raise error(str(exc)) from exc
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as probe:
            image_format = probe.format
            width, height = probe.size
            probe.verify()
    except UnidentifiedImageError as exc:
        raise UnsupportedFormatError("Not a JPEG, PNG or DICOM image.") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError("The image has too many pixels.") from exc
    except Exception as exc:  # Pillow raises many types for damaged files
        # Pillow's message may name internals (an object's memory address): not shown.
        raise CorruptImageError(f"The {_format_name(data)} file is damaged.") from exc
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image has {width}x{height} pixels; the limit is {max_pixels:,} pixels.",
            pixels=width * height,
        )
    try:
        # verify() leaves the image unusable, so decode from a fresh handle.
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        image.load()
    except Exception as exc:
        raise CorruptImageError(f"The {image_format} file is damaged (cut short?).") from exc
    return image


def to_rgb_or_grey(image: Image.Image) -> Image.Image:
    """Convert any accepted mode (16-bit, palette, alpha, CMYK) to 8-bit RGB; keep 8-bit grey.

    8-bit grey ("L", what CT slices are) stays one channel: :func:`to_array`
    resizes it once and copies it into the three channels, which gives the same
    numbers as resizing three identical channels, at a third of the cost.
    """
    if image.mode == "L":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        pixels = np.array(image, dtype=np.float64)
        # 16-bit PNGs store 0..65535; scale the full range to 8 bits rather than clip.
        top = 65535.0 if pixels.max(initial=0) > 255 else 255.0
        # In place: one float64 copy of a large slice, the same numbers as the expression.
        np.divide(pixels, top, out=pixels)
        np.multiply(pixels, 255.0, out=pixels)
        np.add(pixels, 0.5, out=pixels)
        image = Image.fromarray(np.clip(pixels, 0, 255, out=pixels).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas count as black, like the air around the body on a CT.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def to_array(image: Image.Image, image_size: int) -> np.ndarray:
    """Resize an RGB or 8-bit grey image to a square RGB model input, float32 in [0, 1]."""
    resized = np.asarray(image.resize((image_size, image_size), RESIZE_FILTER), dtype=np.float32)
    if resized.ndim == 2:
        resized = np.repeat(resized[:, :, None], 3, axis=2)
    return resized / 255.0


@dataclass(frozen=True)
class View:
    """How one network reads a slice: masked outside the body, cut to the square
    around the body. A version records its networks' views (``preprocessing``)."""

    body_mask: bool = False
    body_crop: bool = False


def recorded_view(preprocessing: dict) -> View:
    """The view a version's ``preprocessing`` records for its network (off unless said)."""
    return View(
        body_mask=bool(preprocessing.get("body_mask", False)),
        body_crop=bool(preprocessing.get("body_crop", False)),
    )


def recorded_views(preprocessing: dict) -> tuple[View, ...]:
    """The views of a version whose networks read different views; () for one view."""
    return tuple(View(**view) for view in preprocessing.get("views", ()))


@dataclass(frozen=True)
class SliceViews:
    """One decoded slice as each reader takes it."""

    whole: np.ndarray  # the whole slice, never masked: what the not-a-CT check reads
    # What the network reads (masked and cropped per the recipe): (size, size, 3), or
    # (views, size, size, 3) for a version whose networks read different views.
    model_input: np.ndarray
    # Where each view lies in the slice: (left, top, right, bottom) fractions.
    boxes: tuple[tuple[float, float, float, float], ...]
    # The body fills the slice from top to bottom, as in a coronal or sagittal slice
    # (:func:`slice_fills_frame`), which the networks read far less reliably than an
    # axial one (docs/model-card.md, "Coronal slices").
    fills_frame: bool

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Where the (first) view lies in the slice."""
        return self.boxes[0]


def load_views(
    source: ImageSource,
    image_size: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    window: Window = ABDOMEN,
    body_mask: bool = False,
    body_crop: bool = False,
    views: Sequence[View] = (),
) -> SliceViews:
    """Decode once; the whole slice and the network's input, both (image_size,
    image_size, 3) float32 in [0, 1].

    With ``body_crop`` the network reads the square around the body
    (:func:`mlcore.body.body_box`, found on the whole slice at the input size) cut
    from the full-resolution slice, so the body fills the input and a stone keeps
    more pixels; a slice without a body is read whole. With ``body_mask``
    everything outside the body is then set to black (air). A version records both
    options and serving follows them. ``views`` (instead of the two options): one
    input per view, stacked, for a version whose networks read different views.
    """
    image = to_rgb_or_grey(open_image(source, max_pixels=max_pixels, window=window))
    whole = to_array(image, image_size)
    # Found once on the whole slice: the crop's box, the whole view's mask and, at the
    # size the plane is judged at, the plane.
    mask = body.body_mask(whole)
    fills_frame = slice_fills_frame(image, mask if image_size == PLANE_SIZE else None)
    if not views:
        view, box = _read_view(image, whole, mask, View(body_mask, body_crop))
        return SliceViews(whole=whole, model_input=view, boxes=(box,), fills_frame=fills_frame)
    read = [_read_view(image, whole, mask, view) for view in views]
    return SliceViews(
        whole=whole,
        model_input=np.stack([view for view, _ in read]),
        boxes=tuple(box for _, box in read),
        fills_frame=fills_frame,
    )


def slice_fills_frame(image: Image.Image, mask: np.ndarray | None = None) -> bool:
    """Whether the body fills the slice from top to bottom (a coronal or sagittal
    slice: :func:`mlcore.body.fills_frame_height`), judged on the whole slice at
    PLANE_SIZE, the size the rule was set at; ``mask``: its body mask at that size,
    when the caller has it."""
    if mask is None:
        mask = body.body_mask(to_array(image, PLANE_SIZE))
    return body.fills_frame_height(mask)


def _read_view(
    image: Image.Image, whole: np.ndarray, mask: np.ndarray, view: View
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    array, box, array_mask = whole, WHOLE_SLICE, mask
    if view.body_crop:
        width, height = image.size
        square = body_box(whole, width, height, mask=mask)
        if square is not None:
            # Pillow pads a box reaching past the edge with black, the colour of air.
            array = to_array(image.crop(square), whole.shape[0])
            array_mask = None  # the crop's own body, found on it
            left, top, right, bottom = square
            box = (left / width, top / height, right / width, bottom / height)
    if view.body_mask:
        array = mask_outside_body(array, mask=array_mask)
    return array, box


def load_image(
    source: ImageSource,
    image_size: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    window: Window = ABDOMEN,
    body_mask: bool = False,
    body_crop: bool = False,
) -> np.ndarray:
    """Bytes, a path or a file object -> float32 array (image_size, image_size, 3) in
    [0, 1]: the whole slice, or with ``body_mask`` / ``body_crop`` what a network
    trained so reads (:func:`load_views`)."""
    views = load_views(
        source,
        image_size,
        max_pixels=max_pixels,
        window=window,
        body_mask=body_mask,
        body_crop=body_crop,
    )
    return views.model_input


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise CorruptImageError(f"Cannot read {os.fspath(source)}: {exc.strerror}") from exc
    return source.read()


def _format_name(data: bytes) -> str:
    return "PNG" if data.startswith(b"\x89PNG") else "JPEG"
