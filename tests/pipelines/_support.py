"""Helpers for the pipeline template tests: CDK-token arguments, a refusing network."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

TOKENS = {
    "role": "${Token[TOKEN.101]}",
    "bucket": "${Token[TOKEN.106]}",
    "image": "${Token[TOKEN.103]}",
    "group": "${Token[TOKEN.104]}",
    "kms": "${Token[TOKEN.105]}",
    "code_bucket": "${Token[TOKEN.102]}",
    "train_key": "${Token[TOKEN.107]}",
    "subnet": "${Token[TOKEN.110]}",
    "security_group": "${Token[TOKEN.111]}",
}


def tabular_arguments(**overrides: Any) -> dict[str, Any]:
    """Arguments as a CDK stack passes them: most values are still tokens."""
    arguments: dict[str, Any] = {
        "pipeline_name": "kit-churn-training",
        "role_arn": TOKENS["role"],
        "artifact_bucket": TOKENS["bucket"],
        "data_prefix": "projects/churn",
        "code_uris": {
            "preprocess": f"s3://{TOKENS['code_bucket']}/code/preprocess.py",
            # A CDK file asset's key is a token too.
            "train": f"s3://{TOKENS['code_bucket']}/{TOKENS['train_key']}",
            "evaluate": f"s3://{TOKENS['code_bucket']}/code/evaluate.py",
        },
        "sklearn_image_uri": TOKENS["image"],
        "model_package_group_name": TOKENS["group"],
        "kms_key_arn": TOKENS["kms"],
        "subnet_ids": [TOKENS["subnet"], "subnet-0abc"],
        "security_group_ids": [TOKENS["security_group"]],
    }
    arguments.update(overrides)
    return arguments


def batch_arguments(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "pipeline_name": "kit-churn-batch",
        "role_arn": TOKENS["role"],
        "artifact_bucket": TOKENS["bucket"],
        "data_prefix": "projects/churn",
        "kms_key_arn": TOKENS["kms"],
        "subnet_ids": [TOKENS["subnet"]],
        "security_group_ids": [TOKENS["security_group"]],
    }
    arguments.update(overrides)
    return arguments


class NetworkUsed(AssertionError):
    """Raised by any DNS lookup or connection attempt inside :func:`no_network`."""


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed(f"network used while building a definition: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        patch.setattr(socket, "create_connection", refuse)
        yield


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step, including those nested in condition branches."""
    found: dict[str, dict[str, Any]] = {}

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            visit(step["Arguments"].get("IfSteps", []) if step["Type"] == "Condition" else [])
            visit(step["Arguments"].get("ElseSteps", []) if step["Type"] == "Condition" else [])

    visit(definition["Steps"])
    return found
