"""KitSageMaker rules over CloudFormation resources: one compliant and one non-compliant fixture each."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sagemaker as sm

from tests.rules._fixtures import ROLE, Platform, findings_of


def _res(stack: cdk.Stack, construct_id: str, kind: str, **props: object) -> cdk.CfnResource:
    """A raw L1 with CloudFormation-spelled properties: what the rules read, whatever L1 wrote it."""
    return cdk.CfnResource(stack, construct_id, type=f"AWS::SageMaker::{kind}", properties=props)


def _build(stack: cdk.Stack, p: Platform) -> None:
    # Studio domain and user settings.
    settings = {"ExecutionRole": ROLE, "SecurityGroups": [p.group.security_group_id],
                "SharingSettings": {"NotebookOutputOption": "Disabled"}}
    network = {"AuthMode": "IAM", "VpcId": p.vpc.vpc_id, "SubnetIds": p.subnets}
    _res(stack, "DomainGood", "Domain", DomainName="good", AppNetworkAccessType="VpcOnly", KmsKeyId=p.key.key_arn,
         DefaultUserSettings=settings, DefaultSpaceSettings={"ExecutionRole": ROLE, "SecurityGroups": [p.group.security_group_id]}, **network)
    _res(stack, "DomainBad", "Domain", DomainName="bad", AppNetworkAccessType="PublicInternetOnly",
         DefaultUserSettings={"ExecutionRole": ROLE, "SharingSettings": {"NotebookOutputOption": "Allowed", "S3OutputPath": "s3://x/y"}},
         **network)
    access = cdk.CfnParameter(stack, "AccessType", default="VpcOnly")
    _res(stack, "DomainToken", "Domain", DomainName="token", AppNetworkAccessType=access.value_as_string, KmsKeyId=p.key.key_arn,
         DefaultUserSettings=settings, **network)
    _res(stack, "ProfileGood", "UserProfile", DomainId="d-1", UserProfileName="good", UserSettings=settings)
    _res(stack, "ProfileBad", "UserProfile", DomainId="d-1", UserProfileName="bad", UserSettings={"ExecutionRole": ROLE})

    # Models and endpoint configs: a typed L1 as the kit writes them, raw ones for the rest.
    container = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"}
    sm.CfnModel(stack, "ModelGood", execution_role_arn=ROLE,
                primary_container=sm.CfnModel.ContainerDefinitionProperty(image=container["Image"]),
                vpc_config=sm.CfnModel.VpcConfigProperty(security_group_ids=[p.group.security_group_id], subnets=p.subnets),
                enable_network_isolation=True)
    isolation = cdk.CfnParameter(stack, "Isolation", default="true")
    _res(stack, "ModelToken", "Model", ExecutionRoleArn=ROLE, PrimaryContainer=container, VpcConfig=p.vpc_config,
         EnableNetworkIsolation=isolation.value_as_string)
    bad = _res(stack, "ModelBad", "Model", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    serverless = _res(stack, "ModelServerless", "Model", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    vpc_model = _res(stack, "ModelVpcForServerless", "Model", ExecutionRoleArn=ROLE, PrimaryContainer=container,
                     VpcConfig=p.vpc_config, EnableNetworkIsolation=True)
    instance = {"VariantName": "AllTraffic", "ModelName": bad.get_att("ModelName"), "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    capture = {"EnableCapture": True, "InitialSamplingPercentage": 10, "DestinationS3Uri": p.bucket.s3_url_for_object("capture"),
               "CaptureOptions": [{"CaptureMode": "Input"}]}
    on_demand = {"MemorySizeInMB": 2048, "MaxConcurrency": 1}
    _res(stack, "ConfigGood", "EndpointConfig", ProductionVariants=[instance], KmsKeyId=p.key.key_arn,
         DataCaptureConfig={**capture, "KmsKeyId": p.key.key_arn})
    _res(stack, "ConfigBad", "EndpointConfig", ProductionVariants=[instance], DataCaptureConfig=capture)
    _res(stack, "ConfigServerlessGood", "EndpointConfig", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": serverless.get_att("ModelName"), "ServerlessConfig": on_demand}])
    _res(stack, "ConfigServerlessVpc", "EndpointConfig", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": vpc_model.get_att("ModelName"), "ServerlessConfig": on_demand}])

    # Feature groups.
    features = {"EventTimeFeatureName": "t", "RecordIdentifierFeatureName": "id",
                "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"}, {"FeatureName": "t", "FeatureType": "Fractional"}]}
    _res(stack, "FeaturesGood", "FeatureGroup", FeatureGroupName="good", **features,
         OfflineStoreConfig={"S3StorageConfig": {"S3Uri": p.bucket.s3_url_for_object("o"), "KmsKeyId": p.key.key_arn}},
         OnlineStoreConfig={"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": p.key.key_arn}})
    _res(stack, "FeaturesBad", "FeatureGroup", FeatureGroupName="bad", **features,
         OfflineStoreConfig={"S3StorageConfig": {"S3Uri": p.bucket.s3_url_for_object("o")}},
         OnlineStoreConfig={"EnableOnlineStore": True})

    # Model package groups.
    statement = {"Sid": "Read", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage"], "Resource": "*"}
    _res(stack, "RegistryGood", "ModelPackageGroup", ModelPackageGroupName="good", ModelPackageGroupPolicy={
        "Version": "2012-10-17", "Statement": [{**statement, "Principal": {"AWS": ["arn:aws:iam::210987654321:root", cdk.Aws.ACCOUNT_ID]}}]})
    _res(stack, "RegistryBad", "ModelPackageGroup", ModelPackageGroupName="bad", ModelPackageGroupPolicy={
        "Version": "2012-10-17", "Statement": [{**statement, "Principal": {"AWS": "*"}}]})

    # MLflow.
    _res(stack, "MlflowGood", "MlflowTrackingServer", TrackingServerName="good", RoleArn=p.role.role_arn,
         ArtifactStoreUri=p.bucket.s3_url_for_object("mlflow"), AutomaticModelRegistration=False)
    _res(stack, "MlflowBad", "MlflowTrackingServer", TrackingServerName="bad", RoleArn=p.role.role_arn,
         ArtifactStoreUri="s3://someone-elses-bucket/mlflow", AutomaticModelRegistration=True)
    _res(stack, "MlflowAppGood", "MlflowApp", Name="good", RoleArn=p.role.role_arn,
         ArtifactStoreUri=p.bucket.s3_url_for_object("mlflow"), ModelRegistrationMode="AutoModelRegistrationDisabled")
    _res(stack, "MlflowAppBad", "MlflowApp", Name="bad", RoleArn=p.role.role_arn, ArtifactStoreUri=p.bucket.s3_url_for_object("mlflow"))

    # Monitoring.
    cluster = {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
    outputs = [{"S3Output": {"S3Uri": "s3://b/m", "LocalPath": "/opt/ml/processing/output"}}]
    job = {
        "DataQualityAppSpecification": {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "e", "LocalPath": "/opt/ml/processing/input"}},
        "RoleArn": ROLE,
    }
    _res(stack, "MonitorGood", "DataQualityJobDefinition", **job,
         NetworkConfig={"EnableNetworkIsolation": True, "VpcConfig": p.vpc_config},
         JobResources={"ClusterConfig": {**cluster, "VolumeKmsKeyId": p.key.key_arn}},
         DataQualityJobOutputConfig={"MonitoringOutputs": outputs, "KmsKeyId": p.key.key_arn})
    _res(stack, "MonitorBad", "DataQualityJobDefinition", **job, JobResources={"ClusterConfig": cluster},
         DataQualityJobOutputConfig={"MonitoringOutputs": outputs})
    _res(stack, "ScheduleBad", "MonitoringSchedule", MonitoringScheduleName="bad", MonitoringScheduleConfig={"MonitoringJobDefinition": {
        "MonitoringAppSpecification": {"ImageUri": "x"}, "MonitoringInputs": [], "RoleArn": ROLE,
        "MonitoringOutputConfig": {"MonitoringOutputs": outputs}, "MonitoringResources": {"ClusterConfig": cluster}}})
    _res(stack, "ScheduleByName", "MonitoringSchedule", MonitoringScheduleName="named",
         MonitoringScheduleConfig={"MonitoringJobDefinitionName": "good", "MonitoringType": "DataQuality"})


@pytest.fixture(scope="module")
def found() -> dict[str, set[str]]:
    return findings_of(_build)


@pytest.mark.parametrize(
    "construct",
    ["DomainGood", "DomainToken", "ProfileGood", "ModelGood", "ModelToken", "ModelServerless", "ConfigGood",
     "ConfigServerlessGood", "FeaturesGood", "RegistryGood", "MlflowGood", "MlflowAppGood", "MonitorGood", "ScheduleByName"],
)
def test_compliant_fixture_has_no_finding(found: dict[str, set[str]], construct: str) -> None:
    assert construct not in found, found.get(construct)


@pytest.mark.parametrize(
    ("construct", "expected"),
    [
        ("DomainBad", {"StudioDomainVpcOnly[AppNetworkAccessType]", "StudioDomainVpcOnly[KmsKeyId]",
                       "StudioSettings[DefaultUserSettings/SecurityGroups]", "StudioSettings[DefaultUserSettings/SharingSettings/S3KmsKeyId]"}),
        ("ProfileBad", {"StudioSettings[UserSettings/SecurityGroups]"}),
        ("ModelBad", {"ModelVpcIsolation[VpcConfig]", "ModelVpcIsolation[EnableNetworkIsolation]"}),
        ("ConfigBad", {"EndpointConfigKms[KmsKeyId]", "EndpointConfigKms[DataCaptureConfig/KmsKeyId]"}),
        ("ConfigServerlessVpc", {"ServerlessVpcModel[ProductionVariants/0/ModelName]"}),
        ("FeaturesBad", {"FeatureGroupKms[OfflineStoreConfig/S3StorageConfig/KmsKeyId]", "FeatureGroupKms[OnlineStoreConfig/SecurityConfig/KmsKeyId]"}),
        ("RegistryBad", {"ModelPackageGroupPolicy[Statement/Read/Principal]"}),
        ("MlflowBad", {"MlflowArtifacts[ArtifactStoreUri]", "MlflowArtifacts[AutomaticModelRegistration]"}),
        ("MlflowAppBad", {"MlflowArtifacts[ModelRegistrationMode]"}),
        ("MonitorBad", {"MonitoringSecurity[NetworkConfig/VpcConfig]", "MonitoringSecurity[NetworkConfig/EnableNetworkIsolation]",
                        "MonitoringSecurity[JobResources/ClusterConfig/VolumeKmsKeyId]", "MonitoringSecurity[DataQualityJobOutputConfig/KmsKeyId]"}),
        ("ScheduleBad", {f"MonitoringSecurity[MonitoringJobDefinition/{f}]" for f in (
            "NetworkConfig/VpcConfig", "NetworkConfig/EnableNetworkIsolation",
            "MonitoringResources/ClusterConfig/VolumeKmsKeyId", "MonitoringOutputConfig/KmsKeyId")}),
    ],
)
def test_non_compliant_fixture_is_reported(found: dict[str, set[str]], construct: str, expected: set[str]) -> None:
    assert found.get(construct) == expected
