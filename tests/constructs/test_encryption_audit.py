"""Keys rotate and are retained; the audit trail is off by default and scoped when on."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from mlops_kit.constructs.audit import Audit
from mlops_kit.constructs.encryption import PlatformKeys


def keys_template() -> Template:
    stack = cdk.Stack(cdk.App())
    PlatformKeys(stack, "Keys", prefix="kit")
    return Template.from_stack(stack)


def audit_template(data_events: bool) -> Template:
    stack = cdk.Stack(cdk.App())
    Audit(stack, "Audit", expiration_days=90, logs_key=kms.Key(stack, "Logs"), data_events=data_events, data_events_bucket_prefix="kit-")
    return Template.from_stack(stack)


def test_keys_rotate_and_are_retained() -> None:
    template = keys_template()
    template.resource_count_is("AWS::KMS::Key", 2)
    for key in template.find_resources("AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "Retain"
        assert key["UpdateReplacePolicy"] == "Retain"
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/kit/data"})
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/kit/logs"})


def test_logs_key_names_cloudwatch_logs_of_this_account_only() -> None:
    keys_template().has_resource_properties("AWS::KMS::Key", {
        "Description": "kit: CloudWatch Logs of the platform",
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Sid": "AllowCloudWatchLogsOfThisAccount",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": Match.any_value()}},
        })])},
    })


def test_access_log_bucket_is_private_retained_and_expires() -> None:
    template = audit_template(False)
    template.resource_count_is("AWS::CloudTrail::Trail", 0)
    template.has_resource("AWS::S3::Bucket", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({"ExpirationInDays": 90})])},
        }),
    })


def test_data_events_cover_only_the_kit_buckets() -> None:
    template = audit_template(True)
    template.has_resource_properties("AWS::CloudTrail::Trail", {
        "EnableLogFileValidation": True,
        "KMSKeyId": Match.any_value(),
        "AdvancedEventSelectors": [Match.object_like({"FieldSelectors": Match.array_with([
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::kit-"]},
        ])})],
    })
