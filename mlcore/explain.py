"""Grad-CAM: where in the slice the model looked for the class it chose.

For each network of the version (an ensemble has several), the gradient of the
predicted class's score (before the softmax, averaged over the networks) with
respect to an inner feature map
weighs that map's channels (Selvaraju et al., 2017); the positive part of the
weighted sum is the network's heatmap. The feature map is the last one with at
least 1/16 of the input's resolution (8x8 for 128 px: MobileNetV2's last
feature map, 4x4, is too coarse to point at a stone). Heatmaps are averaged over
the networks, upsampled to the input size and scaled to [0, 1]. Needs the Keras
model (TensorFlow); the LiteRT file has no gradients.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlcore.runtime import KERAS_FILE

MIN_MAP_FRACTION = 16  # the feature map is at least input_size / 16 wide


class GradCam:
    def __init__(self, version_dir: Path):
        model = keras.saving.load_model(Path(version_dir) / KERAS_FILE, compile=False)
        self.image_size = int(model.input_shape[1])
        # An ensemble holds its networks as sub-models, each holding its backbone.
        members = [layer for layer in model.layers if _holds_model(layer)]
        self._members = [self._split(member) for member in (members or [model])]
        spec = tf.TensorSpec((1, self.image_size, self.image_size, 3), tf.float32)
        self._maps = tf.function(
            self._maps_and_gradients, input_signature=[spec, tf.TensorSpec((), tf.int32)]
        )

    def heatmap(self, image: np.ndarray, class_index: int) -> np.ndarray:
        """(size, size, 3) model input -> (size, size) float32 heatmap in [0, 1]."""
        batch = tf.convert_to_tensor(image[None].astype(np.float32))
        cams = self._maps(batch, tf.constant(class_index, tf.int32))
        heat = tf.reduce_mean(
            tf.stack(
                [tf.image.resize(cam[..., None], (self.image_size,) * 2)[..., 0] for cam in cams]
            ),
            axis=0,
        )[0].numpy()
        top = float(heat.max())
        return (heat / top if top > 0 else heat).astype(np.float32)

    def _maps_and_gradients(self, batch, class_index):
        with tf.GradientTape() as tape:
            maps, scores = [], []
            for pre, base, post in self._members:
                x = batch
                for layer in pre:
                    x = layer(x, training=False)
                feature_map, y = base(x, training=False)
                for layer in post[:-1]:
                    y = layer(y, training=False)
                # The class score before the softmax: its gradient does not vanish when
                # the network is sure (the usual Grad-CAM target).
                logits = tf.matmul(y, post[-1].kernel) + post[-1].bias
                maps.append(feature_map)
                scores.append(logits[:, class_index])
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
        target = [
            layer
            for layer in backbone.layers
            if len(layer.output.shape) == 4 and (layer.output.shape[1] or 0) >= smallest
        ][-1]
        probe = keras.Model(backbone.inputs, [target.output, backbone.output])
        return layers[:index], probe, layers[index + 1 :]


def _holds_model(layer) -> bool:
    return isinstance(layer, keras.Model) and any(
        isinstance(inner, keras.Model) for inner in layer.layers
    )
