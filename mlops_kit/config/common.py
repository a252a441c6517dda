"""Building blocks shared by every configuration section."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

ARN_PATTERN = re.compile(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")
PRINCIPAL_PATTERN = re.compile(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:(iam|sts)::\d{12}:(root|(role|user|assumed-role)/[\w+=,.@/-]+)$")
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class Section(BaseModel):
    """Every section refuses unknown keys and is immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _principal_arn(value: str) -> str:
    if not PRINCIPAL_PATTERN.match(value):
        raise ValueError(
            "not an IAM principal ARN; allowed: arn:aws:iam::<12-digit account>:root, "
            ":role/<name> or :user/<name> (or an sts assumed-role ARN)"
        )
    return value


def _quoted_account(value: object) -> object:
    # YAML reads unquoted digits as an integer (and drops an account's leading zeros), so the
    # string check below would only say "should be a valid string": say how to write it instead.
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"an AWS account ID must be quoted: write \"{value:012d}\" (YAML reads unquoted digits as a number)")
    return value


def _account(value: str) -> str:
    if not ACCOUNT_PATTERN.match(value):
        raise ValueError("an AWS account ID is exactly 12 digits, written as a quoted string")
    return value


@cache
def known_regions() -> frozenset[str]:
    """Regions where SageMaker runs, from botocore's bundled endpoint data (no network)."""
    import boto3

    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sagemaker", partition_name=partition))
    return frozenset(regions)


def _region(value: str) -> str:
    if value not in known_regions():
        raise ValueError(f"not an AWS region where SageMaker runs; allowed: e.g. {', '.join(sorted(known_regions())[:6])}, ...")
    return value


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs retention must be one of {', '.join(map(str, LOG_RETENTION_DAYS))} days")
    return value


def _name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,19}", value) or value.endswith("-") or "--" in value:
        raise ValueError(
            "allowed: 2 to 20 characters, lowercase letters, digits and single hyphens, starting with a letter "
            "(it becomes part of SageMaker, S3 and IAM names)"
        )
    return value


PrincipalArn = Annotated[str, AfterValidator(_principal_arn)]
AccountId = Annotated[str, BeforeValidator(_quoted_account), AfterValidator(_account)]
Region = Annotated[str, AfterValidator(_region)]
RetentionDays = Annotated[int, AfterValidator(_retention)]
KitName = Annotated[str, AfterValidator(_name)]


def _tag_key(value: str) -> str:
    if not (1 <= len(value) <= 128) or value.lower().startswith("aws:") or not re.fullmatch(r"[\w .:/=+\-@]+", value):
        raise ValueError("tag keys are 1-128 characters of letters, digits, spaces and _ . : / = + - @, not starting with aws:")
    return value


def _tag_value(value: str) -> str:
    if len(value) > 256 or not re.fullmatch(r"[\w .:/=+\-@]*", value):
        raise ValueError("tag values are at most 256 characters of letters, digits, spaces and _ . : / = + - @")
    return value


TagKey = Annotated[str, AfterValidator(_tag_key)]
TagValue = Annotated[str, AfterValidator(_tag_value)]
