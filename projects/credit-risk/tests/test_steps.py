"""The project's step code, run end to end on synthetic data (no AWS involved)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

STEPS = Path(__file__).resolve().parents[1] / "steps"


def step(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"project_steps_{name}", STEPS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_preprocess_train_evaluate_on_synthetic_data(tmp_path: Path) -> None:
    data = tmp_path / "input" / "data.csv"
    data.parent.mkdir()
    step("synthetic").main(["--output", str(data), "--rows", "600"])
    assert step("preprocess").main(["--input", str(data), "--output-dir", str(tmp_path / "splits")]) == 0
    assert step("train").main([
        "--train", str(tmp_path / "splits" / "train"),
        "--validation", str(tmp_path / "splits" / "validation"),
        "--model-dir", str(tmp_path / "model"),
    ]) == 0
    assert any((tmp_path / "model").iterdir())
    assert step("evaluate").main([
        "--model", str(tmp_path / "model"),
        "--test", str(tmp_path / "splits" / "test"),
        "--output-dir", str(tmp_path / "evaluation"),
    ]) == 0
    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    accuracy = report["binary_classification_metrics"]["accuracy"]["value"]
    assert 0.6 <= accuracy <= 1.0
