"""FeatureStore: offline bucket, Glue database, feature groups and least-privilege grants."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from mlops_kit.config.shared import FeatureGroupConfig
from mlops_kit.constructs.feature_store import FeatureStore, feature_group_name
from mlops_kit.errors import KitError
from tests.conftest import nag_problems
from tests.constructs._tier2 import Base, base_stack

CUSTOMERS = FeatureGroupConfig.model_validate({
    "name": "customers", "record_identifier": "customer_id", "event_time": "event_time", "online_store": True,
    "features": [{"name": "customer_id", "type": "String"}, {"name": "event_time", "type": "Fractional"}, {"name": "spend", "type": "Fractional"}],
})
ORDERS = FeatureGroupConfig.model_validate({
    "name": "orders", "version": 2, "record_identifier": "order_id", "event_time": "ts", "table_format": "Glue",
    "features": [{"name": "order_id", "type": "Integral"}, {"name": "ts", "type": "String"}],
})


@pytest.fixture(scope="module")
def built() -> tuple[Base, FeatureStore, Template]:
    base = base_stack(nag=False)
    store = FeatureStore(
        base.stack, "FeatureStore", prefix="kit", encryption_key=base.key, access_logs_bucket=base.logs_bucket,
        feature_groups=[CUSTOMERS, ORDERS],
    )
    reader = iam.Role(base.stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    ingester = iam.Role(base.stack, "Ingester", assumed_by=iam.AccountRootPrincipal())
    store.grant_read(reader, "customers")
    store.grant_ingest(ingester, "orders")
    return base, store, Template.from_stack(base.stack)


def test_offline_bucket_has_the_kit_defaults(built: tuple[Base, FeatureStore, Template]) -> None:
    _, _, template = built
    template.has_resource("AWS::S3::Bucket", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like({
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]}},
            })]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "LoggingConfiguration": {"DestinationBucketName": "kit-access-logs", "LogFilePrefix": "feature-store/"},
        }),
    })
    template.has_resource_properties("AWS::S3::BucketPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])},
    })


def test_glue_database_is_named_after_the_prefix(built: tuple[Base, FeatureStore, Template]) -> None:
    _, _, template = built
    template.has_resource("AWS::Glue::Database", {
        "DeletionPolicy": "Retain",
        "Properties": {"CatalogId": {"Ref": "AWS::AccountId"}, "DatabaseInput": Match.object_like({"Name": "kit_feature_store"})},
    })


def test_feature_group_is_versioned_encrypted_retained(built: tuple[Base, FeatureStore, Template]) -> None:
    _, _, template = built
    key_arn = {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]}
    template.has_resource("AWS::SageMaker::FeatureGroup", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "FeatureGroupName": "kit-customers-v1",
            "RecordIdentifierFeatureName": "customer_id",
            "EventTimeFeatureName": "event_time",
            "FeatureDefinitions": [
                {"FeatureName": "customer_id", "FeatureType": "String"},
                {"FeatureName": "event_time", "FeatureType": "Fractional"},
                {"FeatureName": "spend", "FeatureType": "Fractional"},
            ],
            "OnlineStoreConfig": {"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": key_arn}},
            "OfflineStoreConfig": {
                "S3StorageConfig": {"S3Uri": Match.any_value(), "KmsKeyId": key_arn},
                "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": "kit_feature_store", "TableName": "kit_customers_v1"},
                "DisableGlueTableCreation": False,
                "TableFormat": "Iceberg",
            },
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("OfflineStoreRole"), "Arn"]},
        }),
    })
    template.has_resource_properties("AWS::SageMaker::FeatureGroup", {
        "FeatureGroupName": "kit-orders-v2", "OfflineStoreConfig": Match.object_like({"TableFormat": "Glue"}),
    })
    orders = [r for r in template.find_resources("AWS::SageMaker::FeatureGroup").values() if r["Properties"]["FeatureGroupName"] == "kit-orders-v2"]
    assert "OnlineStoreConfig" not in orders[0]["Properties"]


def test_grant_read_is_scoped_to_one_group(built: tuple[Base, FeatureStore, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("Reader")}],
        "PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({
                "Action": ["sagemaker:BatchGetRecord", "sagemaker:DescribeFeatureGroup", "sagemaker:GetRecord"],
                "Resource": "arn:aws:sagemaker:eu-west-1:111122223333:feature-group/kit-customers-v1",
            }),
            Match.object_like({
                "Action": ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
                "Resource": Match.array_with(["arn:aws:glue:eu-west-1:111122223333:table/kit_feature_store/kit_customers_v1"]),
            }),
        ])},
    })


def test_grant_ingest_allows_put_record_only(built: tuple[Base, FeatureStore, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("Ingester")}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": ["sagemaker:DescribeFeatureGroup", "sagemaker:PutRecord"],
            "Resource": "arn:aws:sagemaker:eu-west-1:111122223333:feature-group/kit-orders-v2",
        })])},
    })


def test_feature_store_is_nag_clean() -> None:
    base = base_stack()
    FeatureStore(base.stack, "FeatureStore", prefix="kit", encryption_key=base.key, access_logs_bucket=base.logs_bucket, feature_groups=[CUSTOMERS])
    Template.from_stack(base.stack)
    assert [p for p in nag_problems(base.stack) if "/FeatureStore/" in p] == []


def test_fails_if_feature_group_name_is_too_long() -> None:
    with pytest.raises(KitError, match="is 67 characters; SageMaker allows 64"):
        feature_group_name("a" * 20, "b" * 43, 1)


def test_fails_if_grant_names_an_unknown_group(built: tuple[Base, FeatureStore, Template]) -> None:
    base, store, _ = built
    with pytest.raises(KitError, match="unknown feature group 'payments'; declared: kit-customers-v1, kit-orders-v2"):
        store.grant_read(base.role, "payments")


def test_fails_if_a_group_is_declared_twice() -> None:
    base = base_stack(nag=False)
    store = FeatureStore(base.stack, "Fs", prefix="kit", encryption_key=base.key, access_logs_bucket=base.logs_bucket, feature_groups=[CUSTOMERS])
    with pytest.raises(KitError, match="'kit-customers-v1' is declared twice"):
        store.add_feature_group(CUSTOMERS)
