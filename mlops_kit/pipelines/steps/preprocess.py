"""Preprocessing step: clean a labelled CSV, encode its target, split it three ways.

In a SageMaker Processing job the input is mounted at ``/opt/ml/processing/input/data``
and each split is uploaded from ``/opt/ml/processing/<split>``; locally pass
``--input`` and ``--output-dir``, or set ``MLOPS_KIT_OPT_ML`` to a folder that stands
for ``/opt/ml`` (the kit's local pipeline runner does). The target becomes 0/1 (the positive class is the
larger of the two values, or ``--positive-class``) and the mapping is written next to
the training split so the model can answer with the original labels. Feature encoding
lives in the model itself (see train.py), so batch inference takes raw features.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

# The container's /opt/ml, or the folder that stands for it when the job runs locally.
OPT_ML = os.environ.get("MLOPS_KIT_OPT_ML", "/opt/ml")
INPUT_DIR = f"{OPT_ML}/processing/input/data"
OUTPUT_DIR = f"{OPT_ML}/processing"
LABEL_MAPPING_FILE = "label_mapping.json"
# An object column becomes numeric when at least this share of its values parse as numbers.
NUMERIC_SHARE = 0.95


class PreprocessError(Exception):
    """The input data cannot be turned into a binary classification dataset."""


def read_input(path: Path) -> pd.DataFrame:
    """Read one CSV file, or every ``*.csv`` in a directory (sorted, so runs repeat)."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise PreprocessError(f"{path}: no .csv file found")
    return pd.concat([pd.read_csv(file) for file in files], ignore_index=True)


def clean(frame: pd.DataFrame, target_column: str) -> pd.DataFrame:
    """Trim names and text, turn numeric-looking text into numbers, drop bad rows."""
    frame = frame.rename(columns=lambda name: str(name).strip())
    if target_column not in frame.columns:
        raise PreprocessError(
            f"target column {target_column!r} not found; columns are {', '.join(map(str, frame.columns))}"
        )
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            text = frame[column].astype("string").str.strip().replace("", pd.NA)
            numbers = pd.to_numeric(text, errors="coerce")
            present = text.notna().sum()
            if present and numbers.notna().sum() >= NUMERIC_SHARE * present:
                frame[column] = numbers
            else:
                frame[column] = text.astype(object).where(text.notna(), np.nan)
    frame = frame.dropna(how="all").dropna(subset=[target_column]).drop_duplicates()
    return frame.reset_index(drop=True)


def encode_target(
    frame: pd.DataFrame, target_column: str, positive_class: str | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Map the two target values to 0 and 1; refuse anything but two classes."""
    target = frame[target_column]
    if pd.api.types.is_float_dtype(target) and bool((target == target.round()).all()):
        target = target.astype(int)
    classes = sorted(target.unique().tolist(), key=str)
    if len(classes) != 2:
        raise PreprocessError(
            f"target column {target_column!r} has {len(classes)} classes ({classes[:10]}); "
            "the tabular template does binary classification"
        )
    positive = classes[1]
    if positive_class is not None:
        matches = [value for value in classes if str(value) == positive_class]
        if not matches:
            raise PreprocessError(f"positive class {positive_class!r} is not one of {classes}")
        positive = matches[0]
    mapping = {str(value): int(value == positive) for value in classes}
    encoded = frame.copy()
    encoded[target_column] = target.map(lambda value: mapping[str(value)]).astype(int)
    # The target goes first, the features keep their order.
    columns = [target_column, *(column for column in frame.columns if column != target_column)]
    return encoded[columns], mapping


def split(
    frame: pd.DataFrame, target_column: str, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Stratified train/validation/test split, repeatable through ``seed``."""
    if (
        not 0 < validation_fraction < 1
        or not 0 < test_fraction < 1
        or validation_fraction + test_fraction >= 1
    ):
        raise PreprocessError(
            f"validation ({validation_fraction}) and test ({test_fraction}) fractions must be in (0, 1) "
            "and leave rows for training"
        )
    holdout = validation_fraction + test_fraction
    stratify = frame[target_column] if frame[target_column].value_counts().min() >= 3 else None
    train, rest = train_test_split(frame, test_size=holdout, random_state=seed, stratify=stratify)
    rest_stratify = rest[target_column] if stratify is not None else None
    validation, test = train_test_split(
        rest, test_size=test_fraction / holdout, random_state=seed, stratify=rest_stratify
    )
    return {"train": train, "validation": validation, "test": test}


def run(
    input_path: Path,
    output_dir: Path,
    target_column: str = "label",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
    positive_class: str | None = None,
) -> dict[str, int]:
    """Write ``<output_dir>/{train,validation,test}/<split>.csv``; return the row counts."""
    frame = clean(read_input(input_path), target_column)
    encoded, mapping = encode_target(frame, target_column, positive_class)
    splits = split(encoded, target_column, validation_fraction, test_fraction, seed)
    for name, part in splits.items():
        directory = output_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        part.to_csv(directory / f"{name}.csv", index=False)
    mapping_text = json.dumps({"target_column": target_column, "classes": mapping}, indent=2, sort_keys=True)
    (output_dir / "train" / LABEL_MAPPING_FILE).write_text(mapping_text + "\n")
    return {name: len(part) for name, part in splits.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Clean, encode and split a labelled CSV.")
    parser.add_argument("--input", type=Path, default=Path(INPUT_DIR), help="a CSV file or a folder of them")
    parser.add_argument("--output-dir", type=Path, default=Path(OUTPUT_DIR))
    parser.add_argument("--target-column", default="label")
    parser.add_argument("--positive-class", default=None)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        counts = run(
            args.input,
            args.output_dir,
            args.target_column,
            args.validation_fraction,
            args.test_fraction,
            args.seed,
            args.positive_class,
        )
    except PreprocessError as error:
        print(f"preprocess: {error}", file=sys.stderr)
        return 2
    print("preprocess: " + ", ".join(f"{name}={count} rows" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
