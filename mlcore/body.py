"""The body in a CT slice: a mask from the slice itself, and how much attention falls in it.

A kidney finding lies inside the patient. The scanner table, the air around the
body and burnt-in text identify a scanner or a patient, not a lesion: a model
that looks there has learned a shortcut. :func:`body_mask` finds the body as the
convex hull of the largest connected region brighter than air, after an opening
that cuts the thin table line and text away from it and a closing that joins
the organs where fat is as black as air. :func:`mask_outside_body` blacks out the
rest and :func:`body_box` frames the body for a crop (recipe options that
preprocessing applies identically for training and serving), and
:func:`attention_in_body` measures the share of a heatmap's mass inside the mask.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage, spatial

# Grey level (0-1) above which a pixel is not air: air is 0-3 of 255 in these slices
# (JPEG noise), fat from about 10 up, depending on the window.
AIR_LEVEL = 0.03
# The opening's radius and the final dilation, as a share of the image width: 1/64 is
# 2 px at 128 px, 4 px at 256 px, wider than a table line or a letter's stroke.
OPENING_FRACTION = 1 / 64
# A region smaller than this share of the image is not a body (a blank frame, a speck).
MIN_BODY_FRACTION = 0.02
# A body spanning at least this share of the frame's height fills the frame (a coronal
# or sagittal slice): on the 6,064 real slices at 128 px the axial bodies span
# 0.29-0.84 of the height, the 606 coronal ones 0.97-1.0 (mlcore.preprocessing judges
# the plane at that size, PLANE_SIZE).
FILLS_FRAME = 0.93
# The crop around the body keeps this share of the slice's side as a margin on each
# side, so the skin line and the rim of fat stay in the picture.
CROP_MARGIN = 0.03


def body_mask(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) image in [0, 1] -> (H, W) bool mask of the body; all False
    when there is no body-sized region (a blank frame)."""
    grey = image.mean(axis=2) if image.ndim == 3 else image
    radius = max(1, round(grey.shape[1] * OPENING_FRACTION))
    # The opening cuts the thin table line and the letters' strokes away...
    opened = _open(grey > AIR_LEVEL, radius)
    # ...the closing joins what is left of the body: in a narrow window fat is as
    # black as air, and the organs are islands without a visible skin line.
    closed = _close(opened, 3 * radius)
    labels, count = ndimage.label(closed)
    if not count:
        return np.zeros(grey.shape, bool)
    sizes = np.bincount(labels.ravel())[1:]
    largest = int(np.argmax(sizes)) + 1
    if sizes[largest - 1] < MIN_BODY_FRACTION * grey.size:
        return np.zeros(grey.shape, bool)
    # The abdomen is close to convex: its hull also takes in the black fat at its rim.
    return _convex_hull(labels == largest)


def mask_outside_body(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The image with everything outside the body set to 0 (air); a frame without a
    body is returned unchanged, so the not-a-CT check still sees what it is.
    ``mask``: the image's body_mask when the caller has it already."""
    mask = body_mask(image) if mask is None else mask
    if not mask.any():
        return image
    return image * (mask[..., None] if image.ndim == 3 else mask).astype(image.dtype)


def body_box(
    image: np.ndarray, width: int, height: int, mask: np.ndarray | None = None
) -> tuple[int, int, int, int] | None:
    """The square around the body, in the pixels of the slice it was found on.

    ``image`` is the slice at any working size (its mask is cheap at the model's
    input size); ``width`` x ``height`` is the slice's own size, which the box is
    given in: (left, top, right, bottom), widened by CROP_MARGIN and made square
    around the body's centre, so a crop keeps the slice's proportions; it stays inside
    the slice where it fits and reaches past the edge only on a slice that is not
    square (a crop pads with air there). None without a body (a blank frame).
    ``mask``: the image's body_mask when the caller has it already."""
    mask = body_mask(image) if mask is None else mask
    if not mask.any():
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    scale_x, scale_y = width / mask.shape[1], height / mask.shape[0]
    left, right = columns[0] * scale_x, (columns[-1] + 1) * scale_x
    top, bottom = rows[0] * scale_y, (rows[-1] + 1) * scale_y
    side = max(right - left, bottom - top) + 2 * CROP_MARGIN * max(width, height)
    # Never larger than the slice (a body filling the frame is read whole, not shrunk)
    # and, where the square fits, moved inside the slice rather than padded.
    side = round(min(side, max(width, height)))
    left = _place(round((left + right) / 2 - side / 2), side, width)
    top = _place(round((top + bottom) / 2 - side / 2), side, height)
    return left, top, left + side, top + side


def _place(start: int, side: int, extent: int) -> int:
    """Where a square's side starts on an axis of the slice: inside it when it fits,
    centred (padded equally on both ends) when it does not."""
    if side >= extent:
        return (extent - side) // 2
    return min(max(start, 0), extent - side)


def mask_batch(images: np.ndarray) -> np.ndarray:
    """:func:`mask_outside_body` for each image of an (N, H, W, C) batch."""
    return np.stack([mask_outside_body(image) for image in images])


def fills_frame_height(mask: np.ndarray) -> bool:
    """Whether the body reaches from the top of the frame to its bottom (within
    FILLS_FRAME): coronal and sagittal slices do (the trunk runs off both edges); an
    axial slice shows the whole cross-section, with air above and the table below.
    False without a body."""
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    return bool(rows.size) and bool(rows[-1] - rows[0] + 1 >= FILLS_FRAME * mask.shape[0])


def attention_in_body(heat: np.ndarray, mask: np.ndarray) -> float | None:
    """Share of a heatmap's mass inside the mask (1.0: all of it); None without mass or
    body. The heatmap and the mask must have the same shape."""
    if heat.shape != mask.shape:
        raise ValueError(f"heatmap {heat.shape} and mask {mask.shape} differ in shape")
    heat = np.clip(np.asarray(heat, dtype=np.float64), 0.0, None)
    total = heat.sum()
    if total <= 0 or not mask.any():
        return None
    return float(heat[mask].sum() / total)


def _convex_hull(region: np.ndarray) -> np.ndarray:
    # The ends of each row are enough to find the hull (and far fewer points).
    rows = np.flatnonzero(region.any(axis=1))
    firsts = region[rows].argmax(axis=1)
    lasts = region.shape[1] - 1 - region[rows, ::-1].argmax(axis=1)
    points = np.column_stack([np.r_[firsts, lasts], np.r_[rows, rows]]).astype(np.float64)
    try:
        hull = spatial.ConvexHull(points)
    except spatial.QhullError:  # a line or a point: nothing to widen
        return region
    outline = Image.new("1", (region.shape[1], region.shape[0]), 0)
    ImageDraw.Draw(outline).polygon([tuple(p) for p in points[hull.vertices]], fill=1, outline=1)
    return np.asarray(outline, dtype=bool) | region


# Square structuring elements: scipy's min/max filters are separable into rows and
# columns, a fraction of the cost of disk-shaped binary morphology here.
def _open(mask: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return ndimage.maximum_filter(ndimage.minimum_filter(mask, size), size)


def _close(mask: np.ndarray, radius: int) -> np.ndarray:
    # Padded with air, so that the erosion does not grow the body from the frame's edge.
    size = 2 * radius + 1
    padded = np.pad(mask, radius)
    closed = ndimage.minimum_filter(ndimage.maximum_filter(padded, size), size)
    return closed[radius:-radius, radius:-radius]
