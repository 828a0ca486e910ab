"""Train a model version: data -> tf.data pipeline -> fit -> honest evaluation -> artifact.

One module per step, the arrows pointing down the list:

- ``pipeline``: :func:`train`, the whole way to an immutable version folder;
- ``distillation``: targets mixed with a teacher version's probabilities;
- ``readout``: the trained network read as the version will serve it (held-out
  predictions, metrics, temperature and "uncertain" threshold);
- ``fit``: one network (optimiser schedule, callbacks, weight averaging), or an
  ensemble of several;
- ``callbacks``: batch-normalisation statistics, weight averaging, a dead start
  caught early, progress;
- ``inputs``: pool the folders, drop duplicates, split, decode; tf.data and augmentation;
- ``config``: :class:`TrainConfig`, the recipe it records, and the command-line
  options it declares (each written once, on its field).
"""

from mlcore.training.config import NOT_RECIPE, Log, TrainConfig, recipe, recipe_defaults
from mlcore.training.fit import Fitted, fit_learning_member, fit_member, make_ensemble
from mlcore.training.inputs import PreparedData, prepare_data
from mlcore.training.pipeline import TrainResult, train
from mlcore.training.readout import (
    NeverLearnedError,
    never_learned,
    predict_decoded,
    served_calibration,
)

__all__ = [
    "NOT_RECIPE",
    "Fitted",
    "Log",
    "NeverLearnedError",
    "PreparedData",
    "TrainConfig",
    "TrainResult",
    "fit_learning_member",
    "fit_member",
    "make_ensemble",
    "never_learned",
    "predict_decoded",
    "prepare_data",
    "recipe",
    "recipe_defaults",
    "served_calibration",
    "train",
]
