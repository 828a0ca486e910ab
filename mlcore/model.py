"""The classifier network: MobileNetV2 with a small head."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras

DEFAULT_ALPHA = 0.35
DEFAULT_IMAGE_SIZE = 96
DEFAULT_HEAD_UNITS = (32,)
DEFAULT_DROPOUT = 0.2
# Keras builds MobileNetV2 with BatchNormalization momentum 0.999: the moving
# statistics then trail far behind weights trained from scratch, and validation
# (which uses those statistics) stays at chance while training accuracy climbs.
# 0.99 did the same here (25 % for 13 epochs); 0.9 follows the weights, and
# training recomputes exact statistics at each epoch end (PreciseBatchNormValidation).
DEFAULT_BN_MOMENTUM = 0.9


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained."""


def make_model(
    image_size: int = DEFAULT_IMAGE_SIZE,
    num_classes: int = 4,
    *,
    alpha: float = DEFAULT_ALPHA,
    weights: str = "imagenet",
    head_units: Sequence[int] = DEFAULT_HEAD_UNITS,
    dropout: float = DEFAULT_DROPOUT,
    fine_tune_layers: int | None = None,
    bn_momentum: float = DEFAULT_BN_MOMENTUM,
) -> keras.Model:
    """Build the classifier; it takes RGB float input in [0, 1].

    weights: "imagenet" (Keras download), "none" (random) or a path to a local
    weights file: a MobileNetV2 no-top ``.h5`` file, or an earlier ``.keras``
    model whose base is reused.
    fine_tune_layers: how many of the base's last layers train; None means all,
    0 freezes the base.
    """
    base = _make_base(image_size, alpha, weights)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    if fine_tune_layers is not None:
        frozen = max(len(base.layers) - fine_tune_layers, 0)
        for index, layer in enumerate(base.layers):
            layer.trainable = index >= frozen

    inputs = keras.Input((image_size, image_size, 3), name="image")
    # MobileNetV2 expects [-1, 1]; keeping the rescale inside the model means
    # every caller feeds the [0, 1] arrays that preprocessing produces.
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_mobilenet_range")(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    for index, units in enumerate(head_units):
        x = keras.layers.Dense(units, activation="relu", name=f"head_dense_{index}")(x)
        x = keras.layers.Dropout(dropout, name=f"head_dropout_{index}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="kidney_mobilenetv2")


def _make_base(image_size: int, alpha: float, weights: str) -> keras.Model:
    shape = (image_size, image_size, 3)
    if weights == "none":
        return _mobilenet(shape, alpha, None)
    if weights == "imagenet":
        try:
            return _mobilenet(shape, alpha, "imagenet")
        except ValueError:
            raise
        except Exception as exc:
            raise WeightsUnavailableError(
                "Could not download the ImageNet weights for MobileNetV2 (no internet "
                f"connection? {type(exc).__name__}); pass a local weights file with "
                "--weights PATH or train from scratch with --weights none."
            ) from exc
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailableError(
            f"Weights file {path} does not exist; pass 'imagenet', 'none' or a weights file."
        )
    if path.suffix == ".keras":
        base = _mobilenet(shape, alpha, None)
        earlier = keras.saving.load_model(path, compile=False)
        source = next(layer for layer in earlier.layers if isinstance(layer, keras.Model))
        try:
            base.set_weights(source.get_weights())
        except ValueError as exc:
            raise WeightsUnavailableError(
                f"{path} has a different architecture (alpha or input size): {exc}"
            ) from exc
        return base
    return _mobilenet(shape, alpha, str(path))


def _mobilenet(shape: tuple[int, int, int], alpha: float, weights: str | None) -> keras.Model:
    return keras.applications.MobileNetV2(
        input_shape=shape, alpha=alpha, include_top=False, weights=weights
    )
