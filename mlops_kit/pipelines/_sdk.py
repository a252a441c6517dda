"""Run the SageMaker SDK offline: no AWS calls, no telemetry, no user config files.

The SDK reaches out at several points even when it only builds a definition: importing
``sagemaker.mlops`` creates boto3 clients (which look for a region and credentials, down
to the EC2 metadata endpoint), ``ModelTrainer`` validates its role against IAM, and every
job producer sends usage telemetry unless the SDK config opts out. Inside
:func:`offline_session` all of that is pinned: fake static credentials, a fixed region,
``/dev/null`` AWS config files, role validation off, and the kit's own SDK defaults file
with ``TelemetryOptOut: true``. The environment is restored on exit.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SDK_DEFAULTS_FILE = Path(__file__).with_name("sdk_defaults.yaml")
# Any region works: it only reaches the definition through values the caller passes.
BUILD_REGION = "us-east-1"
SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}

_OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "mlops-kit-offline",
    "AWS_SECRET_ACCESS_KEY": "mlops-kit-offline",
    "AWS_DEFAULT_REGION": BUILD_REGION,
    "AWS_REGION": BUILD_REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(SDK_DEFAULTS_FILE),
    "SAGEMAKER_USER_CONFIG_OVERRIDE": str(SDK_DEFAULTS_FILE),
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
_CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
_LOCK = threading.Lock()
# Each of these checks a config dict against the SDK's JSON schema, re-checking the
# schema itself every time (about 0.2 s); the SDK calls them dozens of times per build.
_CONFIG_VALIDATORS = (
    ("sagemaker.core.config.config_manager", "SageMakerConfig.validate_sagemaker_config"),
    ("sagemaker.core.config.config", "validate_sagemaker_config"),
    ("sagemaker.core.helper.session_helper", "validate_sagemaker_config"),
    ("sagemaker.core.utils.intelligent_defaults_helper", "validate_sagemaker_config"),
)
_VALID_CONFIGS: set[str] = set()


@contextlib.contextmanager
def _offline_environment() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*_OFFLINE_ENV, *_CLEARED_ENV)}
    import boto3  # light next to the SDK, and needed to restore its default session

    saved_session = boto3.DEFAULT_SESSION
    os.environ.update(_OFFLINE_ENV)
    for name in _CLEARED_ENV:
        os.environ.pop(name, None)
    # Sessions the SDK makes for itself (ProcessingStep builds a local-mode client) share
    # this one, and with it botocore's cache of parsed service models.
    boto3.DEFAULT_SESSION = _boto_session()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        # Put back the caller's default session, so their later boto3 calls resolve
        # their own credentials and region, not the offline ones.
        boto3.DEFAULT_SESSION = saved_session


@contextlib.contextmanager
def _quiet_sdk_logs() -> Iterator[None]:
    """Keep the SDK's INFO chatter out of a synth, and undo its root-logger set-up.

    Importing the SDK calls ``logging.basicConfig(level=INFO)`` (a library should not),
    it logs every config value it applies, and warns that it drops job names (which
    is what the kit wants); the root logger is put back and records up to WARNING
    are dropped while the build runs.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(disabled)
        root.handlers[:] = handlers
        root.setLevel(level)


@contextlib.contextmanager
def _validate_each_config_once() -> Iterator[None]:
    """Validate each distinct SDK config once per build instead of on every lookup."""
    patched: list[tuple[Any, str, Any]] = []
    for module_name, attribute in _CONFIG_VALIDATORS:
        owner: Any = importlib.import_module(module_name)
        *parents, name = attribute.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = owner.__dict__.get(name)
        if original is None:  # moved in another SDK release: keep the slow path
            continue
        validate = original.__func__ if isinstance(original, staticmethod) else original

        def once(config: Any = None, _validate: Any = validate) -> None:
            key = json.dumps(config, sort_keys=True, default=repr)
            if key not in _VALID_CONFIGS:
                _validate(config)
                _VALID_CONFIGS.add(key)

        setattr(owner, name, staticmethod(once) if isinstance(original, staticmethod) else once)
        patched.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


class _LocalClientNames:
    """Stands in for ``LocalSagemakerClient`` where steps only read its method names.

    ``ProcessingStep`` and ``TransformStep`` build a local-mode client (and with it a
    fresh boto3 session that parses the SageMaker API model again, about 0.4 s) just to
    learn the name of ``create_processing_job`` / ``create_transform_job``.
    """

    def create_processing_job(self) -> None:
        """Name only."""

    def create_transform_job(self) -> None:
        """Name only."""


@contextlib.contextmanager
def _light_local_client() -> Iterator[None]:
    steps: Any = importlib.import_module("sagemaker.mlops.workflow.steps")
    original = getattr(steps, "LocalSagemakerClient", None)
    if original is not None:
        steps.LocalSagemakerClient = _LocalClientNames
    try:
        yield
    finally:
        if original is not None:
            steps.LocalSagemakerClient = original


@contextlib.contextmanager
def offline_session() -> Iterator[Any]:
    """Yield a ``PipelineSession`` that can only build definitions, never call AWS."""
    with _LOCK, _offline_environment(), _quiet_sdk_logs(), warnings.catch_warnings():
        # "Running within a PipelineSession, there will be No Wait..." once per step.
        warnings.simplefilter("ignore", UserWarning)
        with _validate_each_config_once(), _light_local_client():
            yield _new_session()


@functools.cache
def _new_session() -> Any:
    """One session per process (per synth), shared by every definition: building one costs ~0.1 s.

    Sharing is safe because definitions are built one at a time (under ``_LOCK``) and the only
    state a ``PipelineSession`` keeps between calls, ``context``, is overwritten by each step.
    """
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    class _OfflinePipelineSession(PipelineSession):  # type: ignore[misc]
        """Refuses the SDK's implicit ``sagemaker-<region>-<account>`` bucket."""

        def default_bucket(self) -> str:
            raise RuntimeError(
                "the pipeline template left an S3 location to the SDK's default bucket; "
                "every location must be explicit"
            )

    return _OfflinePipelineSession(boto_session=_boto_session(), sagemaker_config=SDK_CONFIG)


@functools.cache
def _boto_session() -> Any:
    """One boto3 session with static fake credentials: nothing to look up, ever."""
    import boto3

    return boto3.Session(
        aws_access_key_id=_OFFLINE_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_OFFLINE_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=BUILD_REGION,
    )
