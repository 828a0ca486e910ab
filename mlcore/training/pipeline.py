"""Train a model version: data -> fit -> honest evaluation -> immutable version folder."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlcore import versions
from mlcore.evaluation import classification_report
from mlcore.ood import OutlierDetector
from mlcore.preprocessing import RESIZE_FILTER
from mlcore.training.config import Log, TrainConfig, jsonable
from mlcore.training.distillation import distillation_targets
from mlcore.training.fit import fit_learning_member, make_ensemble
from mlcore.training.inputs import prepare_data
from mlcore.training.readout import (
    check_learned,
    member_record,
    predict_decoded,
    served_calibration,
)


@dataclass
class TrainResult:
    version_dir: Path
    metadata: dict


def train(config: TrainConfig, log: Log = print) -> TrainResult:
    """Train, evaluate on the held-out split and write an immutable version folder.

    With ``config.ensemble`` > 1, that many members are trained with seeds
    seed, seed+1, ... and the version averages their probabilities. A network that
    never learned (it reads every image the same way) raises
    :class:`~mlcore.training.NeverLearnedError` before anything is written.
    """
    prepared = prepare_data(config, log)
    train_set, val_set = prepared.train_set, prepared.val_set
    fingerprint = prepared.fingerprint
    skipped = train_set.skipped + val_set.skipped
    for path, reason in skipped:
        log(f"Skipped {path}: {reason}")
    if skipped:
        log(f"Skipped {len(skipped)} unreadable image(s).")
    targets = None
    if config.teacher:
        targets = distillation_targets(config, prepared.whole_train, fingerprint, log)

    weights = prepared.train_weights(config, log)
    started = time.monotonic()
    members, member_records = [], []
    for seed in range(config.seed, config.seed + config.ensemble):
        if config.ensemble > 1:
            log(f"Ensemble member {len(members) + 1}/{config.ensemble} (seed {seed})")
        fitted = fit_learning_member(
            config, seed, train_set, val_set, log, targets=targets, weights=weights
        )
        # Before anything is saved.
        spread = check_learned(fitted.model, train_set, fitted.history, fitted.seed)
        members.append(fitted.model)
        record = member_record(
            fitted.seed, fitted.history, fitted.model, val_set, config, spread=spread
        )
        member_records.append({**record, "dead_starts": fitted.dead_starts})
    model = members[0] if len(members) == 1 else make_ensemble(members)
    train_seconds = time.monotonic() - started

    has_validation = len(val_set.labels) > 0
    report, calibration, inference = None, {}, {"flip_averaging": config.flip_averaging}
    if has_validation:
        raw = predict_decoded(model, val_set, config)
        report = classification_report(val_set.labels, raw, config.class_names)
        calibration, inference["uncertain_below"] = served_calibration(raw, val_set.labels)
    metadata = {
        "class_names": list(config.class_names),
        "input_size": [config.image_size, config.image_size, 3],
        "inference": inference,
        "calibration": calibration,
        "ood": OutlierDetector.fit(prepared.whole_train.images).to_metadata(),
        "preprocessing": {
            "function": "mlcore.preprocessing.load_image",
            "color": "RGB",
            "resize_filter": RESIZE_FILTER.name.lower(),
            "scale": "[0, 1]",
            "body_mask": config.body_mask,
            "body_crop": config.body_crop,
        },
        "training": {
            **{k: jsonable(v) for k, v in asdict(config).items() if k != "models_dir"},
            "seconds": round(train_seconds, 1),
            "members": member_records,
        },
        "dataset": {
            **prepared.description(config),
            "skipped": [{"path": str(p), "reason": r} for p, r in skipped],
        },
        "metrics": {"validation": report},
    }
    # The LiteRT export is checked against Keras on real slices: held-out ones when
    # there are any (a version trained on everything has none).
    parity = val_set.images[:64] if has_validation else train_set.images[:64]
    version_dir = versions.write_version(
        config.models_dir, model, metadata, parity_images=parity, log=log
    )
    return TrainResult(version_dir, versions.read_metadata(version_dir))
