"""Evaluation step: score the trained model on the test split, write evaluation.json.

In a SageMaker Processing job the training job's ``model.tar.gz`` is mounted under
``/opt/ml/processing/model`` and the test split under ``/opt/ml/processing/test``; the
report is uploaded from ``/opt/ml/processing/evaluation``. Locally pass the paths, or set
``MLOPS_KIT_OPT_ML`` to a folder that stands for ``/opt/ml``. The
report has the shape SageMaker's model-quality metrics use, so the Model Registry shows
it and the pipeline's condition reads ``binary_classification_metrics.<name>.value``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

MODEL_FILE = "model.joblib"
REPORT_FILE = "evaluation.json"
METRICS = ("accuracy", "auc", "f1", "precision", "recall")


def load_model(path: Path) -> dict[str, Any]:
    """Load ``model.joblib`` from a directory, or from a ``model.tar.gz`` file or folder."""
    if path.is_dir() and (path / MODEL_FILE).exists():
        artifact: dict[str, Any] = joblib.load(path / MODEL_FILE)
        return artifact
    archive = path / "model.tar.gz" if path.is_dir() else path
    if not archive.exists():
        raise FileNotFoundError(f"{path}: neither {MODEL_FILE} nor model.tar.gz found")
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive, "r:gz") as tar:
        # SageMaker and `tar -C dir .` name members differently ("model.joblib", "./model.joblib").
        members = [
            m for m in tar.getmembers() if m.isfile() and Path(m.name).as_posix().lstrip("./") == MODEL_FILE
        ]
        if not members:
            raise FileNotFoundError(f"{archive}: no {MODEL_FILE} inside")
        tar.extract(members[0], scratch)
        artifact = joblib.load(Path(scratch) / members[0].name)
        return artifact


def evaluate(model_path: Path, test_path: Path, output_dir: Path) -> dict[str, Any]:
    """Write ``<output_dir>/evaluation.json`` and return the report."""
    artifact = load_model(model_path)
    files = sorted(test_path.glob("*.csv")) if test_path.is_dir() else [test_path]
    test = pd.concat([pd.read_csv(file) for file in files], ignore_index=True)
    truth = test[artifact["target_column"]].astype(int)
    probabilities = artifact["model"].predict_proba(test[artifact["features"]])[:, 1]
    predicted = (probabilities >= 0.5).astype(int)
    values = {
        "accuracy": accuracy_score(truth, predicted),
        "auc": roc_auc_score(truth, probabilities) if truth.nunique() == 2 else float("nan"),
        "f1": f1_score(truth, predicted, zero_division=0),
        "precision": precision_score(truth, predicted, zero_division=0),
        "recall": recall_score(truth, predicted, zero_division=0),
    }
    matrix = confusion_matrix(truth, predicted, labels=[0, 1])
    report: dict[str, Any] = {
        "binary_classification_metrics": {
            **{name: {"value": round(float(values[name]), 6)} for name in METRICS},
            "confusion_matrix": {
                str(actual): {str(guess): int(matrix[actual][guess]) for guess in (0, 1)} for actual in (0, 1)
            },
        },
        "test_rows": len(test),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score the model on the test split.")
    # The container's /opt/ml, or the folder that stands for it when the job runs locally.
    processing = Path(os.environ.get("MLOPS_KIT_OPT_ML", "/opt/ml")) / "processing"
    parser.add_argument("--model", type=Path, default=processing / "model")
    parser.add_argument("--test", type=Path, default=processing / "test")
    parser.add_argument("--output-dir", type=Path, default=processing / "evaluation")
    args = parser.parse_args(argv)
    report = evaluate(args.model, args.test, args.output_dir)
    metrics = report["binary_classification_metrics"]
    print("evaluate: " + ", ".join(f"{name}={metrics[name]['value']}" for name in METRICS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
