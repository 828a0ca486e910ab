"""What the cross-validation commands share: the options of the commands that read
recorded runs again with their slices (``--run``, ``--data-dir``), and what they print
at the end: mean ± spread over the folds of a summary.json
(mlcore.crossval.summarize)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser


def add_recorded_run_options(parser: CommandParser) -> None:
    """``--run`` (recorded folds) and ``--data-dir`` (the slices they read), both
    repeatable and required."""
    parser.add_argument(
        "--run",
        type=Path,
        action="append",
        required=True,
        help="a cross-validation's --output folder (repeatable)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        required=True,
        help="a data folder the cross-validation read (repeatable)",
    )


def data_roots(options: dict) -> list[Path]:
    """The ``--data-dir`` folders, resolved; a CommandError names any that is missing."""
    roots = [path.resolve() for path in options["data_dir"]]
    missing = [str(root) for root in roots if not root.is_dir()]
    if missing:
        raise CommandError(f"No such data folder: {', '.join(missing)}")
    return roots


def write_summary(command: BaseCommand, summary: dict, output: Path) -> None:
    mean, spread = summary["mean"], summary["spread"]
    done = ", ".join(str(k) for k in summary["folds_done"])
    command.stdout.write(
        f"Folds {done} of {summary['folds']}: balanced accuracy "
        f"{_pm(mean, spread, 'balanced_accuracy')}, accuracy {_pm(mean, spread, 'accuracy')}"
    )
    recalls = ", ".join(
        f"{key[7:]} {_pm(mean, spread, key)}" for key in mean if key.startswith("recall_")
    )
    command.stdout.write(f"Recall: {recalls}")
    command.stdout.write(
        f"Attention in body {_pm(mean, spread, 'attention_in_body', percent=False)} "
        f"(looking evenly at the body: "
        f"{_pm(mean, spread, 'attention_even_body', percent=False)}), "
        f"refused {_pm(mean, spread, 'refused_share')}, confidently wrong "
        f"{_pm(mean, spread, 'confidently_wrong')} (uncertain "
        f"{_pm(mean, spread, 'uncertain_share')})"
    )
    if summary["never_learned_folds"]:
        dead = ", ".join(str(k) for k in summary["never_learned_folds"])
        command.stdout.write(
            command.style.WARNING(
                f"Never learned (every slice read the same way): fold {dead}. "
                "Counted in the mean above."
            )
        )
    command.stdout.write(f"Written to {output}")


def _pm(mean: dict, spread: dict, key: str, *, percent: bool = True) -> str:
    if mean.get(key) is None:
        return "n/a"
    scale, unit = (100, " %") if percent else (1, "")
    text = f"{mean[key] * scale:.1f}" if percent else f"{mean[key]:.2f}"
    if spread.get(key) is not None:
        text += f" ± {spread[key] * scale:.1f}" if percent else f" ± {spread[key]:.2f}"
    return text + unit
