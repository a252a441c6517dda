"""SharedData: the datasets and artifacts buckets and their zone-scoped grants."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from mlops_kit.constructs.shared_data import SharedData, zone_prefix
from tests.constructs._tier2 import Base, base_stack


@pytest.fixture(scope="module")
def built() -> tuple[Base, SharedData, Template]:
    base = base_stack(nag=False)
    data = SharedData(base.stack, "SharedData", encryption_key=base.key, access_logs_bucket=base.logs_bucket, raw_infrequent_access_days=60)
    data.grant_read_datasets(base.role)
    data.grant_write_datasets(base.role, "raw")
    return base, data, Template.from_stack(base.stack)


def test_two_secure_buckets_logging_to_the_access_log_bucket(built: tuple[Base, SharedData, Template]) -> None:
    _, _, template = built
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    prefixes = sorted(b["Properties"]["LoggingConfiguration"]["LogFilePrefix"] for b in buckets.values())
    assert prefixes == ["artifacts/", "datasets/"]
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "Retain"
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
        sse = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert sse["SSEAlgorithm"] == "aws:kms"


def test_raw_zone_moves_to_infrequent_access(built: tuple[Base, SharedData, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::S3::Bucket", {
        "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({
            "Id": "RawToInfrequentAccess", "Prefix": "raw/",
            "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 60}],
        })])},
    })


def test_grants_are_scoped_to_zones(built: tuple[Base, SharedData, Template]) -> None:
    _, _, template = built
    policy = next(iter(template.find_resources("AWS::IAM::Policy").values()))
    resources = str(policy["Properties"]["PolicyDocument"])
    assert "/curated/*" in resources and "/raw/*" in resources
    assert "'s3:DeleteObject*'" not in resources


def test_fails_if_zone_is_unknown() -> None:
    with pytest.raises(ValueError, match="unknown datasets zone 'gold'; allowed: raw, curated"):
        zone_prefix("gold")  # type: ignore[arg-type]
