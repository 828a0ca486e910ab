from __future__ import annotations

import keras
import numpy as np
import pytest

from mlcore.model import WeightsUnavailableError, make_model


def _batch_norms(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    base = model.get_layer("mobilenetv2_0.35_96")
    return [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_default_model_is_the_demo_architecture():
    model = make_model(weights="none")

    assert model.input_shape == (None, 96, 96, 3)
    assert model.output_shape == (None, 4)
    assert model.get_layer("mobilenetv2_0.35_96") is not None
    assert model.get_layer("head_dense_0").units == 32
    assert model.get_layer("head_dropout_0").rate == pytest.approx(0.2)
    assert model.get_layer("probabilities").activation.__name__ == "softmax"


def test_batch_norm_statistics_follow_training_quickly():
    model = make_model(weights="none")

    assert {layer.momentum for layer in _batch_norms(model)} == {0.9}


def test_output_is_a_probability_distribution():
    model = make_model(48, weights="none", alpha=0.5, head_units=(16, 8))

    probabilities = np.asarray(model(np.random.rand(3, 48, 48, 3).astype("float32")))

    assert probabilities.shape == (3, 4)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_fine_tune_layers_freezes_all_but_the_last_layers_of_the_base():
    model = make_model(weights="none", fine_tune_layers=5)
    base = model.get_layer("mobilenetv2_0.35_96")

    assert [layer.trainable for layer in base.layers[-5:]] == [True] * 5
    assert not any(layer.trainable for layer in base.layers[:-5])


def test_zero_fine_tune_layers_freezes_the_whole_base():
    model = make_model(weights="none", fine_tune_layers=0)

    assert model.get_layer("mobilenetv2_0.35_96").trainable_weights == []
    assert len(model.trainable_weights) == 4  # the two Dense layers of the head


def test_imagenet_weights_offline_fail_with_one_clear_sentence(monkeypatch, tmp_path):
    # Point the real Keras download at a closed port, with an empty cache, so it fails
    # the way it does offline even on a machine that has internet or cached weights.
    from keras.src.applications import mobilenet_v2
    from keras.src.backend import config

    monkeypatch.setattr(mobilenet_v2, "BASE_WEIGHT_PATH", "http://127.0.0.1:9/")
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))

    with pytest.raises(WeightsUnavailableError, match=r"ImageNet weights.*--weights PATH"):
        make_model(weights="imagenet")


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        make_model(weights=str(tmp_path / "missing.h5"))


def test_base_weights_are_reused_from_an_earlier_keras_model(tmp_path):
    earlier = make_model(32, weights="none")
    earlier.save(tmp_path / "earlier.keras")

    model = make_model(32, weights=str(tmp_path / "earlier.keras"))

    old = earlier.get_layer("mobilenetv2_0.35_32").get_weights()
    new = model.get_layer("mobilenetv2_0.35_32").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(old, new, strict=True))


def test_weights_of_another_architecture_are_refused(tmp_path):
    make_model(32, weights="none", alpha=0.5).save(tmp_path / "other.keras")

    with pytest.raises(WeightsUnavailableError, match="different architecture"):
        make_model(32, weights=str(tmp_path / "other.keras"))
