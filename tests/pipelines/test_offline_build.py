"""Building a definition touches neither the network, nor the user's AWS or SDK config."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import yaml

from mlops_kit.pipelines import sklearn_image_uri_by_region
from mlops_kit.pipelines._sdk import SDK_CONFIG, SDK_DEFAULTS_FILE, offline_session
from tests.pipelines._support import no_network, tabular_arguments

ROOT = Path(__file__).resolve().parents[2]

COLD_BUILD = textwrap.dedent(
    """
    import json, socket, sys

    def refuse(*args, **kwargs):
        raise SystemExit(f"network used: {args!r}")

    socket.socket.connect = refuse
    socket.getaddrinfo = refuse
    socket.create_connection = refuse
    from mlops_kit.pipelines import build_tabular_training_definition
    from tests.pipelines._support import tabular_arguments

    definition = build_tabular_training_definition(**tabular_arguments())
    print(json.dumps({"steps": len(json.loads(definition)["Steps"]), "modules": "sagemaker" in sys.modules}))
    """
)


def test_cold_build_uses_no_network_and_ignores_user_config(tmp_path: Path) -> None:
    """A fresh process, so the SDK's import-time boto3 clients are covered too."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("this is not an ini file [\n")
    (home / ".config" / "sagemaker").mkdir(parents=True)
    (home / ".config" / "sagemaker" / "config.yaml").write_text("{not: yaml: at all\n")
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SAGEMAKER_"))
    }
    environment.update(HOME=str(home), AWS_PROFILE="does-not-exist", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", COLD_BUILD],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"steps": 4, "modules": True}


def test_build_restores_the_environment_and_logging() -> None:
    before_env = dict(os.environ)
    before_session = boto3.DEFAULT_SESSION
    root = logging.getLogger()
    before_logging = (list(root.handlers), root.level, logging.root.manager.disable)
    from mlops_kit.pipelines import build_tabular_training_definition

    with no_network():
        build_tabular_training_definition(**tabular_arguments())
    assert dict(os.environ) == before_env
    assert boto3.DEFAULT_SESSION is before_session
    assert (list(root.handlers), root.level, logging.root.manager.disable) == before_logging


def test_telemetry_is_opted_out_in_a_schema_valid_config() -> None:
    assert yaml.safe_load(SDK_DEFAULTS_FILE.read_text()) == SDK_CONFIG
    with offline_session() as session:
        from sagemaker.core.common_utils import resolve_value_from_config
        from sagemaker.core.config.config import validate_sagemaker_config
        from sagemaker.core.config.config_schema import TELEMETRY_OPT_OUT_PATH

        validate_sagemaker_config(SDK_CONFIG)
        assert (
            resolve_value_from_config(config_path=TELEMETRY_OPT_OUT_PATH, sagemaker_session=session) is True
        )


def test_the_offline_session_refuses_the_default_bucket() -> None:
    with offline_session() as session:
        try:
            session.default_bucket()
        except RuntimeError as error:
            assert "every location must be explicit" in str(error)
        else:
            raise AssertionError("default_bucket() must not resolve a bucket")


def test_sklearn_images_cover_every_known_region_offline() -> None:
    with no_network():
        images = sklearn_image_uri_by_region()
    assert len(images) >= 30
    assert (
        images["us-east-1"]
        == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    assert images["cn-north-1"].endswith(".amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert all(uri.split("/")[0].split(".")[3] == region for region, uri in images.items())
    assert list(images) == sorted(images)
