"""The training pipeline's sampling: every slice once per epoch, or each class drawn
equally often (balanced sampling, for the scarce Stone slices)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mlcore import data
from mlcore.training import TrainConfig
from mlcore.training.fit import fit_member
from mlcore.training.inputs import make_dataset

COUNTS = {0: 60, 1: 30, 2: 6, 3: 24}  # Stone (2) scarce, as in the real data


def _decoded() -> data.DecodedImages:
    labels = np.concatenate([np.full(n, label) for label, n in COUNTS.items()])
    # Each image is one grey value, its index: flips keep it, so it names the slice.
    images = np.repeat(np.arange(len(labels), dtype=np.float32), 8 * 8 * 3).reshape(-1, 8, 8, 3)
    return data.DecodedImages(images, labels, [Path(f"{i}.png") for i in range(len(labels))])


def _epoch(dataset) -> list[int]:
    return [int(x[0, 0, 0]) for images, _ in dataset for x in images.numpy()]


def _config(**options) -> TrainConfig:
    still = {"rotation": 0.0, "zoom": 0.0, "translation": 0.0}
    return TrainConfig((), Path(), batch_size=16, **still, **options)


def test_by_default_every_slice_comes_once_per_epoch():
    decoded = _decoded()

    epoch = _epoch(make_dataset(decoded, _config(), seed=1, training=True))

    assert sorted(epoch) == list(range(len(decoded.labels)))


def test_loss_weights_travel_with_their_slices():
    decoded = _decoded()
    weights = np.arange(len(decoded.labels), dtype=np.float32) / 10

    dataset = make_dataset(decoded, _config(), seed=1, training=True, weights=weights)

    pairs = [
        (int(x[0, 0, 0]), float(w))
        for images, _, batch_weights in dataset
        for x, w in zip(images.numpy(), batch_weights.numpy(), strict=True)
    ]
    assert sorted(index for index, _ in pairs) == list(range(len(decoded.labels)))
    assert all(w == pytest.approx(index / 10) for index, w in pairs)


def test_folder_balance_and_balanced_sampling_are_refused_together():
    with pytest.raises(ValueError, match="choose one"):
        _config(folder_balance=True, balanced_sampling=True)
    with pytest.raises(ValueError, match="takes no loss weights"):
        make_dataset(
            _decoded(),
            _config(balanced_sampling=True),
            training=True,
            weights=np.ones(len(_decoded().labels)),
        )


def test_folder_balance_needs_two_data_folders():
    with pytest.raises(ValueError, match="two or more --data-dir"):
        TrainConfig((Path("one"),), Path(), folder_balance=True)


def test_a_network_takes_loss_weights_exactly_when_its_recipe_balances_folders():
    decoded, log = _decoded(), lambda line: None
    balanced = TrainConfig((Path("a"), Path("b")), Path(), folder_balance=True)

    with pytest.raises(ValueError, match="--folder-balance"):
        fit_member(balanced, 1, decoded, decoded, log)
    with pytest.raises(ValueError, match="--folder-balance"):
        fit_member(_config(), 1, decoded, decoded, log, weights=np.ones(len(decoded.labels)))


def test_balanced_sampling_draws_each_class_about_equally_every_epoch():
    decoded = _decoded()
    dataset = make_dataset(decoded, _config(balanced_sampling=True), seed=1, training=True)

    first, second = _epoch(dataset), _epoch(dataset)

    assert len(first) == len(second) == len(decoded.labels)  # the same epoch length
    per_class = Counter(int(decoded.labels[i]) for i in first)
    assert set(per_class) == set(COUNTS)
    assert all(18 <= n <= 42 for n in per_class.values()), per_class  # ~30 each of 120
    assert per_class[2] > COUNTS[2]  # the 6 Stone slices came round several times
    assert first != second  # drawn afresh each epoch


def test_balanced_sampling_is_reproducible_with_a_seed():
    decoded = _decoded()
    config = _config(balanced_sampling=True)

    runs = [_epoch(make_dataset(decoded, config, seed=4, training=True)) for _ in range(2)]

    assert runs[0] == runs[1]
