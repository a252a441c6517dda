"""The step scripts, run end to end on synthetic data in a temporary folder."""

from __future__ import annotations

import ast
import json
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_kit.pipelines.steps import SCRIPTS, STEPS_DIR, evaluate, preprocess, synthetic, train


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """synthetic -> preprocess -> train -> model.tar.gz -> evaluate, through each CLI."""
    root = tmp_path_factory.mktemp("steps")
    raw = root / "raw"
    assert synthetic.main(["--output", str(raw / "data.csv"), "--rows", "400", "--seed", "7"]) == 0
    assert preprocess.main(["--input", str(raw), "--output-dir", str(root / "splits")]) == 0
    assert (
        train.main(
            [
                "--train",
                str(root / "splits" / "train"),
                "--validation",
                str(root / "splits" / "validation"),
                "--model-dir",
                str(root / "model"),
                "--max_iter",
                "100",  # as the SageMaker training toolkit passes it
            ]
        )
        == 0
    )
    # What SageMaker does with /opt/ml/model at the end of a training job.
    packed = root / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as archive:
        for item in sorted((root / "model").rglob("*")):
            archive.add(item, arcname=str(item.relative_to(root / "model")), recursive=False)
    assert (
        evaluate.main(
            [
                "--model",
                str(packed),
                "--test",
                str(root / "splits" / "test"),
                "--output-dir",
                str(root / "evaluation"),
            ]
        )
        == 0
    )
    return root


def test_synthetic_data_is_deterministic() -> None:
    first, second = synthetic.generate(300, seed=3), synthetic.generate(300, seed=3)
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(synthetic.generate(300, seed=4))
    assert 300 <= len(first) <= 310


def test_preprocess_cleans_and_splits(workspace: Path) -> None:
    splits = {
        name: pd.read_csv(workspace / "splits" / name / f"{name}.csv")
        for name in ("train", "validation", "test")
    }
    rows = sum(len(part) for part in splits.values())
    assert rows == 400  # the duplicate and the unlabelled row are gone
    assert len(splits["train"]) == 280
    for part in splits.values():
        assert next(iter(part.columns)) == "label"
        assert set(part["label"]) == {0, 1}
    mapping = json.loads((workspace / "splits" / "train" / "label_mapping.json").read_text())
    assert mapping == {"classes": {"0": 0, "1": 1}, "target_column": "label"}


def test_preprocess_encodes_text_labels(tmp_path: Path) -> None:
    frame = synthetic.generate(200, seed=1)
    frame["label"] = frame["label"].map({0: " stayed", 1: "churned "})
    frame.to_csv(tmp_path / "data.csv", index=False)
    preprocess.run(tmp_path / "data.csv", tmp_path / "out", positive_class="churned")
    mapping = json.loads((tmp_path / "out" / "train" / "label_mapping.json").read_text())
    assert mapping["classes"] == {"churned": 1, "stayed": 0}


def test_fails_if_target_is_not_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = synthetic.generate(100, seed=1)
    frame["label"] = [index % 3 for index in range(len(frame))]
    frame.to_csv(tmp_path / "data.csv", index=False)
    assert (
        preprocess.main(["--input", str(tmp_path / "data.csv"), "--output-dir", str(tmp_path / "out")]) == 2
    )
    assert "target column 'label' has 3 classes" in capsys.readouterr().err


def test_fails_if_target_column_is_missing(tmp_path: Path) -> None:
    synthetic.generate(100, seed=1).to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(
        preprocess.PreprocessError, match="target column 'churn' not found; columns are customer_age"
    ):
        preprocess.run(tmp_path / "data.csv", tmp_path / "out", target_column="churn")


def test_train_writes_a_model_tar_gz_layout(workspace: Path) -> None:
    model_dir = workspace / "model"
    assert (model_dir / "model.joblib").is_file()
    # The serving container runs code/inference.py (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code).
    assert (model_dir / "code" / "inference.py").read_text() == SCRIPTS["train"].read_text()


def test_evaluation_report_has_the_model_quality_shape(workspace: Path) -> None:
    report = json.loads((workspace / "evaluation" / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    assert set(evaluate.METRICS) <= set(metrics)
    assert all(0.0 <= metrics[name]["value"] <= 1.0 for name in evaluate.METRICS)
    # The synthetic data carries a real signal: well above chance, yet not trivially perfect.
    assert 0.75 <= metrics["accuracy"]["value"] < 1.0
    assert metrics["auc"]["value"] >= 0.8
    matrix = metrics["confusion_matrix"]
    assert sum(matrix[a][b] for a in "01" for b in "01") == report["test_rows"] == 60


def test_evaluate_reads_a_model_folder_too(workspace: Path, tmp_path: Path) -> None:
    report = evaluate.evaluate(workspace / "model", workspace / "splits" / "test", tmp_path)
    expected = json.loads((workspace / "evaluation" / "evaluation.json").read_text())
    assert (
        report["binary_classification_metrics"]["accuracy"]
        == expected["binary_classification_metrics"]["accuracy"]
    )


def test_inference_handlers_answer_csv_and_json(workspace: Path) -> None:
    artifact: dict[str, Any] = train.model_fn(str(workspace / "model"))
    test = pd.read_csv(workspace / "splits" / "test" / "test.csv").head(5)
    features = test.drop(columns=["label"])
    headerless = features.to_csv(header=False, index=False)
    with_header = features.to_csv(index=False)
    records = json.dumps(features.to_dict(orient="records"))
    answers = [
        train.output_fn(
            train.predict_fn(train.input_fn(headerless.encode(), "text/csv"), artifact), "text/csv"
        ),
        train.output_fn(train.predict_fn(train.input_fn(with_header, "text/csv"), artifact), "text/csv"),
        train.output_fn(train.predict_fn(train.input_fn(records, "application/json"), artifact), "text/csv"),
    ]
    assert answers[0] == answers[1] == answers[2]
    lines = answers[0].strip().splitlines()
    assert len(lines) == 5
    label, probability = lines[0].split(",")
    assert label in {"0", "1"} and 0.0 <= float(probability) <= 1.0
    as_json = json.loads(
        train.output_fn(
            train.predict_fn(train.input_fn(headerless, "text/csv"), artifact), "application/json"
        )
    )
    assert [str(row["prediction"]) for row in as_json] == [line.split(",")[0] for line in lines]


def test_fails_if_inference_gets_the_wrong_number_of_columns(workspace: Path) -> None:
    artifact = train.model_fn(str(workspace / "model"))
    with pytest.raises(ValueError, match="expected 6 feature columns"):
        train.predict_fn(train.input_fn("1,2,3\n", "text/csv"), artifact)


def test_step_scripts_import_nothing_from_the_kit() -> None:
    """Only the script file itself is in the SageMaker job; kit imports would fail there."""
    for name in ("preprocess", "train", "evaluate", "synthetic"):
        tree = ast.parse((STEPS_DIR / f"{name}.py").read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert imported <= {
            "__future__",
            "argparse",
            "io",
            "json",
            "os",
            "shutil",
            "sys",
            "tarfile",
            "tempfile",
            "pathlib",
            "typing",
            "joblib",
            "numpy",
            "pandas",
            "sklearn",
        }, (name, imported)
