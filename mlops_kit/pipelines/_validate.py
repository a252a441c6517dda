"""Argument checks shared by the templates; CDK tokens pass every check unexamined."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mlops_kit.pipelines._tokens import is_token
from mlops_kit.pipelines.errors import PipelineTemplateError

_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_S3_PREFIX = re.compile(r"^[a-zA-Z0-9!_.*'()/-]+$")
# ISO 8601 durations as the Pipelines service reads ExpireAfter, e.g. P30D or PT12H.
_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")


def pipeline_name(value: str) -> str:
    if not is_token(value) and not _PIPELINE_NAME.match(value):
        raise PipelineTemplateError(
            "pipeline_name",
            value,
            "use 1-256 letters, digits and single hyphens, starting with a letter or digit",
        )
    return value


def arn(argument: str, value: str, service: str) -> str:
    if is_token(value):
        return value
    match = _ARN.match(value)
    if not match or value.split(":")[2] != service:
        raise PipelineTemplateError(argument, value, f"expected an arn:aws:{service}:... ARN or a CDK token")
    return value


def non_empty(argument: str, value: str) -> str:
    if not value.strip():
        raise PipelineTemplateError(argument, value, "a non-empty value is required")
    return value


def s3_prefix(argument: str, value: str) -> str:
    """A key prefix without leading or trailing slash, e.g. ``projects/churn``."""
    if is_token(value):
        return value
    if not value or value.startswith("/") or value.endswith("/") or not _S3_PREFIX.match(value):
        raise PipelineTemplateError(
            argument, value, "use an S3 key prefix such as 'projects/churn' (no leading or trailing '/')"
        )
    return value


def s3_script_uri(argument: str, value: str) -> str:
    """An ``s3://bucket/key.py`` URI; the bucket or key may be CDK tokens."""
    if not value.startswith("s3://") or len(value) <= len("s3://"):
        raise PipelineTemplateError(argument, value, "expected an s3://bucket/key URI of a Python script")
    bucket_and_key = value[len("s3://") :]
    bucket, _, key = bucket_and_key.partition("/")
    if not bucket or not key or key.endswith("/"):
        raise PipelineTemplateError(argument, value, "expected an s3://bucket/key URI of a Python script")
    if not is_token(key) and not key.endswith(".py"):
        raise PipelineTemplateError(argument, value, "the script's key must end with '.py'")
    return value


def instance_type(argument: str, value: str) -> str:
    if not _INSTANCE_TYPE.match(value):
        raise PipelineTemplateError(
            argument, value, "expected a SageMaker instance type such as 'ml.m5.large'"
        )
    return value


def instance_types(argument: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, str) or not values:
        raise PipelineTemplateError(argument, values, "expected a non-empty list of instance types")
    return [instance_type(argument, value) for value in values]


def duration(argument: str, value: str) -> str:
    if not _DURATION.match(value):
        raise PipelineTemplateError(
            argument, value, "expected an ISO 8601 duration such as 'P30D' or 'PT12H'"
        )
    return value


def positive_int(argument: str, value: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PipelineTemplateError(argument, value, "expected a positive whole number")
    if maximum is not None and value > maximum:
        raise PipelineTemplateError(argument, value, f"must be at most {maximum}")
    return value


def network(subnet_ids: Sequence[str], security_group_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Subnets and security groups go together: SageMaker needs both for VPC mode."""
    for argument, values in (("subnet_ids", subnet_ids), ("security_group_ids", security_group_ids)):
        if isinstance(values, str):
            raise PipelineTemplateError(argument, values, "expected a list of IDs, not a single string")
    subnets, groups = list(subnet_ids), list(security_group_ids)
    if bool(subnets) != bool(groups):
        raise PipelineTemplateError(
            "subnet_ids" if not subnets else "security_group_ids",
            subnets or groups,
            "give both subnet_ids and security_group_ids for VPC mode, or neither",
        )
    for argument, values, prefix in (
        ("subnet_ids", subnets, "subnet-"),
        ("security_group_ids", groups, "sg-"),
    ):
        for value in values:
            if not is_token(value) and not value.startswith(prefix):
                raise PipelineTemplateError(
                    argument, value, f"expected an ID starting with '{prefix}' or a CDK token"
                )
    return subnets, groups


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def bucket_name(argument: str, value: str) -> str:
    if not is_token(value) and not _BUCKET.match(value):
        raise PipelineTemplateError(
            argument, value, "expected an S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
        )
    return value
