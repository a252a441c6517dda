"""Config gives log retention in days; CDK wants its RetentionDays enum."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from mlops_kit.config.common import LOG_RETENTION_DAYS

# CDK lists the members in the same order as CloudWatch's allowed values, INFINITE last.
_BY_DAYS = dict(zip(LOG_RETENTION_DAYS, [member for member in logs.RetentionDays if member.name != "INFINITE"], strict=True))


def retention(days: int) -> logs.RetentionDays:
    return _BY_DAYS[days]
