"""The shipped image tables are what the installed SageMaker SDK computes, region by region."""

from __future__ import annotations

import json

import pytest

from mlops_kit.pipelines import images


def test_shipped_tables_match_the_installed_sdk() -> None:
    # Regenerate with `make image-tables` when this fails after an SDK upgrade.
    shipped = json.loads(images.SHIPPED_TABLES.read_text())
    assert shipped == images.sdk_tables()
    assert len(shipped["model-monitor"]) >= 30
    assert shipped["model-monitor"]["us-east-1"].endswith(".dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer")


def test_synth_reads_the_shipped_tables_not_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    images._shipped.cache_clear()

    def refuse(*_: object) -> dict[str, str]:
        raise AssertionError("the SDK was asked for a table that ships as data")

    monkeypatch.setattr(images, "_sdk_model_monitor", refuse)
    monkeypatch.setattr(images, "_sdk_sklearn", refuse)
    shipped = json.loads(images.SHIPPED_TABLES.read_text())
    assert images.model_monitor_image_uri_by_region() == shipped["model-monitor"]
    assert images.sklearn_image_uri_by_region() == shipped["sklearn"][images.DEFAULT_SKLEARN_VERSION]


def test_tables_of_another_sdk_release_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    images._shipped.cache_clear()
    monkeypatch.setattr(images, "version", lambda _name: "0.0.0")
    try:
        assert images._shipped() == {}
        # Falls back to the SDK's own answer (memoized per process).
        assert images.sklearn_image_uri_by_region()["us-east-1"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    finally:
        images._shipped.cache_clear()
