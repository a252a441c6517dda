"""Training step, and the inference handlers of the model it produces.

As a SageMaker training job (scikit-learn container, script mode) the toolkit passes
hyperparameters as ``--name value`` and sets ``SM_MODEL_DIR`` and ``SM_CHANNEL_TRAIN``;
locally pass ``--train`` and ``--model-dir``. The model is one scikit-learn pipeline
(imputation, one-hot encoding, HistGradientBoostingClassifier) saved with joblib as
``model.joblib``. This file then copies itself to ``<model-dir>/code/inference.py``:
SageMaker packs the model directory into ``model.tar.gz``, and the serving container,
started with ``SAGEMAKER_PROGRAM=inference.py`` and
``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``, loads it through ``model_fn`` below.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

MODEL_FILE = "model.joblib"
LABEL_MAPPING_FILE = "label_mapping.json"
INFERENCE_MODULE = "inference.py"


def build_model(frame: pd.DataFrame, hyperparameters: dict[str, Any]) -> Pipeline:
    """Impute and one-hot encode by column kind, then gradient-boosted trees."""
    numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [str(c) for c in frame.columns if c not in numeric]
    features = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        ("one_hot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            ),
        ],
        sparse_threshold=0.0,
    )
    classifier = HistGradientBoostingClassifier(
        learning_rate=hyperparameters["learning_rate"],
        max_iter=hyperparameters["max_iter"],
        max_depth=hyperparameters["max_depth"] or None,
        max_leaf_nodes=hyperparameters["max_leaf_nodes"],
        min_samples_leaf=hyperparameters["min_samples_leaf"],
        l2_regularization=hyperparameters["l2_regularization"],
        random_state=hyperparameters["seed"],
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def read_split(path: Path) -> pd.DataFrame:
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no .csv file found")
    return pd.concat([pd.read_csv(file) for file in files], ignore_index=True)


def train(
    train_path: Path,
    model_dir: Path,
    target_column: str = "label",
    validation_path: Path | None = None,
    **hyperparameters: Any,
) -> dict[str, Any]:
    """Fit, save ``model.joblib`` and the inference code; return what was saved."""
    settings = {**DEFAULT_HYPERPARAMETERS, **hyperparameters}
    frame = read_split(train_path)
    if target_column not in frame.columns:
        raise ValueError(f"target column {target_column!r} not in the training data")
    features = frame.drop(columns=[target_column])
    model = build_model(features, settings)
    model.fit(features, frame[target_column])
    mapping_file = (train_path if train_path.is_dir() else train_path.parent) / LABEL_MAPPING_FILE
    classes = json.loads(mapping_file.read_text())["classes"] if mapping_file.exists() else {}
    artifact = {
        "model": model,
        "features": [str(column) for column in features.columns],
        "target_column": target_column,
        # encoded value (0/1) -> original label, for answers in the caller's terms
        "labels": {int(code): label for label, code in classes.items()},
        "hyperparameters": settings,
    }
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(artifact, model_dir / MODEL_FILE)
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    shutil.copyfile(Path(__file__), code_dir / INFERENCE_MODULE)
    if validation_path is not None and validation_path.exists():
        validation = read_split(validation_path)
        predicted = model.predict(validation[artifact["features"]])
        # One line per metric, in the form a training job's metric definitions can match.
        print(f"validation:accuracy={accuracy_score(validation[target_column], predicted):.6f}")
    return artifact


# ---- inference handlers, used by the serving container and by batch transform ----


def model_fn(model_dir: str) -> dict[str, Any]:
    """Load the artifact that :func:`train` saved."""
    artifact: dict[str, Any] = joblib.load(Path(model_dir) / MODEL_FILE)
    return artifact


def input_fn(body: str | bytes, content_type: str = "text/csv") -> pd.DataFrame:
    """Accept CSV (header optional) or JSON records; return raw feature rows."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if content_type.startswith("application/json"):
        records = json.loads(text)
        return pd.DataFrame(records if isinstance(records, list) else [records])
    if content_type.startswith("text/csv"):
        return pd.read_csv(io.StringIO(text), header=None)
    raise ValueError(f"unsupported content type {content_type!r}; use text/csv or application/json")


def _align(data: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    first_row = [str(value).strip() for value in data.iloc[0].tolist()] if len(data) else []
    if first_row and set(features) <= set(first_row):  # the CSV carried a header line
        data = data.iloc[1:].set_axis(first_row, axis=1)
    elif set(features) <= {str(column) for column in data.columns}:
        data = data.rename(columns=str)
    elif data.shape[1] == len(features):
        data = data.set_axis(features, axis=1)
    else:
        raise ValueError(
            f"expected {len(features)} feature columns ({', '.join(features)}), got {data.shape[1]}"
        )
    data = data[features].replace("", np.nan)
    for column in data.columns:
        converted = pd.to_numeric(data[column], errors="coerce")
        if converted.notna().sum() == data[column].notna().sum():
            data[column] = converted
    return data


def predict_fn(data: pd.DataFrame, artifact: dict[str, Any]) -> pd.DataFrame:
    """Predicted label and probability of the positive class for each row."""
    features = _align(data, artifact["features"])
    probabilities = artifact["model"].predict_proba(features)[:, 1]
    labels = artifact.get("labels") or {}
    predicted = [labels.get(int(p >= 0.5), int(p >= 0.5)) for p in probabilities]
    return pd.DataFrame({"prediction": predicted, "probability": np.round(probabilities, 6)})


def output_fn(prediction: pd.DataFrame, accept: str = "text/csv") -> str:
    """One ``prediction,probability`` line per input row, or a JSON list of records."""
    if accept.startswith("application/json"):
        return json.dumps(prediction.to_dict(orient="records"))
    return str(prediction.to_csv(header=False, index=False))


DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_depth": 0,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 10,
    "l2_regularization": 0.0,
    "seed": 42,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the tabular classifier.")
    env = os.environ
    parser.add_argument(
        "--train", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    parser.add_argument(
        "--validation",
        type=Path,
        default=Path(env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    parser.add_argument(
        "--model-dir", "--model_dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model"))
    )
    parser.add_argument("--target-column", "--target_column", default="label")
    # Hyperparameters: the training toolkit passes them as --name value, with underscores.
    for name, default in DEFAULT_HYPERPARAMETERS.items():
        flags = sorted({f"--{name}", f"--{name.replace('_', '-')}"})
        parser.add_argument(*flags, dest=name, type=type(default), default=default)
    args = parser.parse_args(argv)
    hyperparameters = {name: getattr(args, name) for name in DEFAULT_HYPERPARAMETERS}
    train(args.train, args.model_dir, args.target_column, args.validation, **hyperparameters)
    print(f"train: model saved to {args.model_dir / MODEL_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
