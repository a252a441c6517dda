"""A project's monitoring settings: drift alarm features and model-quality monitoring, refused in
one line that names the file, the field and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_kit.config import ConfigError, load_config
from tests.conftest import ROOT

PROJECT = (ROOT / "projects" / "credit-risk.yaml").read_text()
MODEL_QUALITY = """
  model_quality:
    ground_truth_s3_uri: s3://truth-bucket/credit-risk/
    problem_type: BinaryClassification
    thresholds: {accuracy: 0.75}
"""


def _load(tmp_path: Path, monitoring_tail: str) -> object:
    (tmp_path / "kit.yaml").write_text((ROOT / "kit.yaml").read_text())
    (tmp_path / "projects").mkdir()
    text = PROJECT.replace("  drift_threshold: 0.1\n", "  drift_threshold: 0.1\n" + monitoring_tail)
    assert text != PROJECT or not monitoring_tail
    (tmp_path / "projects" / "credit-risk.yaml").write_text(text)
    return load_config(tmp_path / "kit.yaml")


def test_model_quality_is_read_when_configured(tmp_path: Path) -> None:
    config = _load(tmp_path, MODEL_QUALITY)
    monitoring = config.projects[0].monitoring  # type: ignore[attr-defined]
    assert monitoring.model_quality.thresholds == {"accuracy": 0.75}
    assert monitoring.drift_features == ["customer_age", "tenure_months", "monthly_charges", "support_calls", "plan", "region"]


@pytest.mark.parametrize(
    ("tail", "needles"),
    [
        (MODEL_QUALITY.replace("accuracy: 0.75", "rmse: 0.3"), ("monitoring.model_quality.thresholds.rmse", "not a BinaryClassification metric", "accuracy")),
        (MODEL_QUALITY.replace("BinaryClassification", "Ranking"), ("monitoring.model_quality.problem_type", "Regression")),
        (MODEL_QUALITY.replace("s3://truth-bucket/credit-risk/", "truth-bucket"), ("monitoring.model_quality.ground_truth_s3_uri", "s3://")),
        ("  model_quality: {problem_type: Regression}\n", ("monitoring.model_quality.ground_truth_s3_uri",)),
    ],
)
def test_fails_if_model_quality_is_wrong(tmp_path: Path, tail: str, needles: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, tail)
    message = str(caught.value)
    assert "\n" not in message and "credit-risk.yaml" in message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("drift_threshold: 0.1", "drift_threshold: 2", "monitoring.drift_threshold"),
        ("support_calls, plan", "support calls, plan", "monitoring.drift_features"),
        ("region]", "region, a, b, c, d, e]", "monitoring.drift_features"),
    ],
)
def test_fails_if_drift_settings_are_wrong(tmp_path: Path, old: str, new: str, needle: str) -> None:
    (tmp_path / "kit.yaml").write_text((ROOT / "kit.yaml").read_text())
    (tmp_path / "projects").mkdir()
    assert old in PROJECT
    (tmp_path / "projects" / "credit-risk.yaml").write_text(PROJECT.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "kit.yaml")
    message = str(caught.value)
    assert "\n" not in message and "credit-risk.yaml" in message and needle in message, message
