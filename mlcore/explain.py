"""Grad-CAM: where in the slice the model looked for the class it chose.

For each network of the version (an ensemble has several), the gradient of the
predicted class's score (before the softmax, less the mean of all classes'
scores, averaged over the networks) with
respect to an inner feature map
weighs that map's channels (Selvaraju et al., 2017); the positive part of the
weighted sum is the network's heatmap. The feature map is the last one with at
least 1/16 of the input's resolution (8x8 for 128 px: MobileNetV2's last
feature map, 4x4, is too coarse to point at a stone). Heatmaps are averaged over
the networks, upsampled to the input size and scaled to [0, 1]. A version whose
networks read different views (the whole slice, the crop around the body) has a
heatmap per view; each is placed where its view lies in the slice, and their mean
is the slice's heatmap. Needs the Keras model (TensorFlow); the LiteRT file has no
gradients.

How much of a heatmap can fall inside the body depends on that map's resolution
too: one 8x8 cell spans 16 pixels at 128 px, and the upsampling spreads heat from
a cell on the body's edge onto the air beside it. :meth:`GradCam.even_heatmap`
draws, at the same resolution and through the same upsampling, the heatmap of a
model that looks evenly at the whole body and nowhere else; its share inside the
body (``even_body`` beside every ``attention_in_body``) is the yardstick: a model
below it favours the body's outline or the air, one above it looks into the body.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlcore import versions
from mlcore.body import attention_in_body, body_mask
from mlcore.preprocessing import ImageSource, View, load_views, recorded_view, recorded_views
from mlcore.runtime import KERAS_FILE

MIN_MAP_FRACTION = 16  # the feature map is at least input_size / 16 wide
# Grad-CAM is one backward pass per slice: attention is measured on this many slices
# per class (every one when fewer), evenly spaced in the given order.
ATTENTION_PER_CLASS = 40


class GradCam:
    def __init__(
        self,
        model: keras.Model,
        *,
        body_mask: bool = False,
        body_crop: bool = False,
        views: Sequence[View] = (),
    ):
        # How the model reads a slice (masked, cropped to the body; or, with views,
        # network k reads view k of a stacked input): slice_heatmap prepares the image
        # so; callers of heatmap() do (mlcore.preprocessing.load_views).
        self.body_mask = body_mask
        self.body_crop = body_crop
        self.views = tuple(views)
        self.image_size = int(model.input_shape[-2])
        # An ensemble holds its networks as sub-models, each holding its backbone.
        members = [layer for layer in model.layers if _holds_model(layer)]
        self._members = [self._split(member) for member in (members or [model])]
        if self.views and len(self.views) != len(self._members):
            raise ValueError(f"{len(self.views)} views for {len(self._members)} networks")
        # The feature map's side (8 for 128 px): the resolution of every heatmap.
        self.map_size = int(self._members[0][1].outputs[0].shape[1])
        spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
        self._maps = tf.function(
            self._maps_and_gradients, input_signature=[spec, tf.TensorSpec((), tf.int32)]
        )

    @classmethod
    def from_version(cls, version_dir: Path) -> GradCam:
        metadata = versions.read_metadata(Path(version_dir))
        preprocessing = metadata.get("preprocessing", {})
        view = recorded_view(preprocessing)
        return cls(
            keras.saving.load_model(Path(version_dir) / KERAS_FILE, compile=False),
            body_mask=view.body_mask,
            body_crop=view.body_crop,
            views=recorded_views(preprocessing),
        )

    def slice_heatmap(self, source: ImageSource, class_index: int) -> np.ndarray:
        """An image file -> (size, size) heatmap over the whole slice, in [0, 1]: where
        the network read a crop around the body, its heatmap is placed where that crop
        lies in the slice (zero outside it: the network did not see that part). With
        several views, each network's heatmap is placed so and the mean is scaled to
        [0, 1]: each network counts alike, as in the probabilities."""
        read = load_views(
            source,
            self.image_size,
            body_mask=self.body_mask,
            body_crop=self.body_crop,
            views=self.views,
        )
        if not self.views:
            return place_in_slice(self.heatmap(read.model_input, class_index), read.box)
        heats = self.view_heatmaps(read.model_input, class_index)
        placed = [place_in_slice(heat, box) for heat, box in zip(heats, read.boxes, strict=True)]
        return _to_unit(np.mean(placed, axis=0))

    def heatmap(self, image: np.ndarray, class_index: int) -> np.ndarray:
        """(size, size, 3) model input -> (size, size) float32 heatmap in [0, 1]."""
        if self.views:
            raise ValueError("A version of several views has a heatmap per view.")
        cams = self._cams(image, class_index)
        return _to_unit(tf.reduce_mean(tf.stack(cams), axis=0)[0].numpy())

    def view_heatmaps(self, image: np.ndarray, class_index: int) -> list[np.ndarray]:
        """(views, size, size, 3) stacked input -> one (size, size) heatmap in [0, 1]
        per view, each from the network that reads it."""
        if not self.views:
            raise ValueError("This version reads one view: use heatmap().")
        return [_to_unit(cam[0].numpy()) for cam in self._cams(image, class_index)]

    def _cams(self, image: np.ndarray, class_index: int) -> list:
        """Each network's (1, size, size) upsampled Grad-CAM for one model input."""
        batch = tf.convert_to_tensor(image[None].astype(np.float32))
        cams = self._maps(batch, tf.constant(class_index, tf.int32))
        return [_upsampled(cam, self.image_size) for cam in cams]

    def even_heatmap(self, mask: np.ndarray) -> np.ndarray:
        """(size, size) body mask -> the heatmap of a model looking evenly at the body:
        each feature-map cell as warm as the share of its pixels inside the body,
        upsampled as :meth:`heatmap` upsamples, scaled to [0, 1]."""
        body = tf.convert_to_tensor(mask[None, ..., None].astype(np.float32))
        cells = tf.image.resize(body, (self.map_size,) * 2, method="area")[..., 0]
        return _to_unit(_upsampled(cells, mask.shape[0])[0].numpy())

    def _maps_and_gradients(self, batch, class_index):
        with tf.GradientTape() as tape:
            maps, scores = [], []
            for index, (pre, base, post) in enumerate(self._members):
                x = batch[:, index] if self.views else batch
                for layer in pre:
                    x = layer(x, training=False)
                feature_map, y = base(x, training=False)
                for layer in post[:-1]:
                    y = layer(y, training=False)
                # The class score before the softmax (its gradient does not vanish when
                # the network is sure), less the mean of all classes' scores: the softmax
                # ignores what every score shares, so only what sets this class apart is
                # evidence for it. With the plain score, the spot finder of the tests drew
                # empty maps (all channels' weighted sum negative) for 8 of 20 slices.
                logits = tf.matmul(y, post[-1].kernel) + post[-1].bias
                maps.append(feature_map)
                scores.append(logits[:, class_index] - tf.reduce_mean(logits, axis=1))
            score = tf.add_n(scores) / len(scores)
        gradients = tape.gradient(score, maps)
        cams = []
        for feature_map, gradient in zip(maps, gradients, strict=True):
            weights = tf.reduce_mean(gradient, axis=(1, 2), keepdims=True)
            cams.append(tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1)))
        return cams

    def _split(self, member: keras.Model):
        """(layers before the backbone, backbone returning [inner map, output], layers after)."""
        layers = [
            layer for layer in member.layers if not isinstance(layer, keras.layers.InputLayer)
        ]
        index = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.Model))
        backbone = layers[index]
        smallest = self.image_size // MIN_MAP_FRACTION
        # Not a ZeroPadding2D's output: one cell wider on the bottom and the right, it
        # would stretch the heatmap by a ninth to the top left (block_13_pad, 9x9 at
        # 128 px, was taken until 2026-11-28).
        target = [
            layer
            for layer in backbone.layers
            if len(layer.output.shape) == 4
            and (layer.output.shape[1] or 0) >= smallest
            and not isinstance(layer, keras.layers.ZeroPadding2D)
        ][-1]
        probe = keras.Model(backbone.inputs, [target.output, backbone.output])
        return layers[:index], probe, layers[index + 1 :]


def place_in_slice(heat: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A heatmap of a crop -> the same-sized heatmap of the whole slice, the crop's
    heat resized into ``box`` (fractions of the slice: mlcore.preprocessing.SliceViews)."""
    from PIL import Image

    size = heat.shape[0]
    left, top, right, bottom = (round(edge * size) for edge in box)
    if (left, top, right, bottom) == (0, 0, size, size):
        return heat
    canvas = np.zeros((size, size), np.float32)
    width, height = max(right - left, 1), max(bottom - top, 1)
    resized = np.asarray(
        Image.fromarray(heat.astype(np.float32), mode="F").resize(
            (width, height), Image.Resampling.BILINEAR
        )
    )
    # The crop's square may reach past the slice's edge: paste only what lies inside.
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(right, size), min(bottom, size)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = resized[y0 - top : y1 - top, x0 - left : x1 - left]
    return _to_unit(canvas)


def _upsampled(cells, size: int):
    """(N, h, w) feature-map cells -> (N, size, size), bilinear: every heatmap's way up."""
    return tf.image.resize(cells[..., None], (size, size))[..., 0]


def _to_unit(heat: np.ndarray) -> np.ndarray:
    """Scaled so that its peak is 1 (an empty heatmap stays zero), float32."""
    top = float(heat.max())
    return (heat / top if top > 0 else heat).astype(np.float32)


def _holds_model(layer) -> bool:
    return isinstance(layer, keras.Model) and any(
        isinstance(inner, keras.Model) for inner in layer.layers
    )


def attention_by_class(
    explainer: GradCam,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    class_names: Sequence[str],
    *,
    per_class: int = ATTENTION_PER_CLASS,
) -> dict:
    """Mean share of Grad-CAM mass inside the body (mlcore.body), per true class and
    over all measured slices; each slice's heatmap is for the class the model chose.
    ``even_body`` is the same share for :meth:`GradCam.even_heatmap` on the same
    slices: what looking evenly at the whole body would score at this resolution.
    For a version of several views, each network's share is measured in the view it
    reads, and the views are averaged."""
    shares: dict[str, list[float]] = {name: [] for name in class_names}
    even: dict[str, list[float]] = {name: [] for name in class_names}
    for label, name in enumerate(class_names):
        members = np.flatnonzero(labels == label)
        if len(members) > per_class:
            members = members[np.linspace(0, len(members) - 1, per_class).astype(int)]
        for index in members:
            for heat, mask in _heats_and_masks(explainer, images[index], int(predicted[index])):
                share = attention_in_body(heat, mask)
                if share is not None:
                    shares[name].append(share)
                    even[name].append(attention_in_body(explainer.even_heatmap(mask), mask))
    return {
        **_means(shares),
        "even_body": _means(even),
    }


def _heats_and_masks(explainer: GradCam, image: np.ndarray, class_index: int):
    """(heatmap, body mask) of each view a network read: one pair, or one per view of
    a version of several views (their shares are averaged like any two slices')."""
    if not explainer.views:
        return [(explainer.heatmap(image, class_index), body_mask(image))]
    heats = explainer.view_heatmaps(image, class_index)
    return [(heat, body_mask(view)) for heat, view in zip(heats, image, strict=True)]


def _means(shares: dict[str, list[float]]) -> dict:
    everything = [share for values in shares.values() for share in values]
    return {
        "mean": _mean(everything),
        "per_class": {name: _mean(values) for name, values in shares.items()},
        "n_images": len(everything),
    }


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def heatmap_grid(
    explainer: GradCam,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    class_names: Sequence[str],
    *,
    per_class: int = 4,
) -> bytes:
    """A PNG: one row per true class, ``per_class`` slices (evenly spaced) each shown
    plain and with its heatmap; a green frame where the reading is right, red where it
    is wrong, and the body's outline in blue."""
    from PIL import Image, ImageDraw

    from mlcore.heatmaps import overlay_png

    if explainer.views:
        raise ValueError("The heatmap grid shows networks that read one view.")
    size = images.shape[1]
    pad = 4
    tile = 2 * size + pad
    sheet = Image.new("RGB", (per_class * (tile + pad) + pad, len(class_names) * (size + 2 * pad)))
    draw = ImageDraw.Draw(sheet)
    for label in range(len(class_names)):
        members = np.flatnonzero(labels == label)
        if len(members) > per_class:
            members = members[np.linspace(0, len(members) - 1, per_class).astype(int)]
        for column, index in enumerate(members):
            image = images[index]
            slice_ = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
            heat = explainer.heatmap(image, int(predicted[index]))
            overlay = Image.open(io.BytesIO(overlay_png(heat))).convert("RGBA")
            combined = Image.alpha_composite(slice_.convert("RGBA"), overlay).convert("RGB")
            outline = body_mask(image)
            edge = outline & ~np.roll(outline, 1, 0) | outline & ~np.roll(outline, 1, 1)
            pixels = np.asarray(combined).copy()
            pixels[edge] = (60, 120, 255)
            left = pad + column * (tile + pad)
            top = pad + label * (size + 2 * pad)
            sheet.paste(slice_.convert("RGB"), (left, top))
            sheet.paste(Image.fromarray(pixels), (left + size + pad, top))
            colour = (40, 200, 80) if predicted[index] == label else (230, 40, 40)
            draw.rectangle(
                (left - 2, top - 2, left + tile + 1, top + size + 1), outline=colour, width=2
            )
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    return buffer.getvalue()
