"""Ordered teardown: executed against moto where moto has the APIs, Studio's order against botocore's shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from mlops_kit.errors import KitError
from mlops_kit.teardown import Planner, owned, plan_teardown, run_teardown

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1"


def clients(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def retained_bucket_stack(name: str) -> None:
    template = {
        "Resources": {
            "Data": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
            "Scratch": {"Type": "AWS::SQS::Queue"},
        }
    }
    clients("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def flow_resources(base: str, run: str) -> None:
    """What the deploy flow leaves behind for one run: a model, configs, endpoints, autoscaling."""
    sm = clients("sagemaker")
    sm.create_model(ModelName=f"{base}-{run}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    for stage in ("staging", "production"):
        config = f"{base}-{stage}-{run}"
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"{base}-{run}", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
        )
        sm.create_endpoint(EndpointName=f"{base}-{stage}", EndpointConfigName=config)
    scaling = clients("application-autoscaling")
    resource = f"endpoint/{base}-production/variant/AllTraffic"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension, MinCapacity=1, MaxCapacity=4)
    scaling.put_scaling_policy(
        PolicyName=f"{base}-production-invocations", ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 70.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
    )


@pytest.fixture
def platform() -> Iterator[None]:
    """Two projects whose names share a stem, their flows' resources, and the two platform stacks."""
    with mock_aws():
        for stack in ("mlops-backbone", "mlops-shared-assets", "mlops-project-churn", "mlops-project-churn-eu"):
            retained_bucket_stack(stack)
        flow_resources("mlops-churn", "r1")
        flow_resources("mlops-churn-eu", "r7")
        yield


def names() -> dict[str, list[str]]:
    sm = clients("sagemaker")
    return {
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        "configs": sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
        "endpoints": sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]),
        "targets": sorted(t["ResourceId"] for t in clients("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]),
        "stacks": sorted(s["StackName"] for s in clients("cloudformation").describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"),
    }


def test_owned_tells_a_project_from_one_whose_name_extends_it() -> None:
    assert owned("mlops-churn-production", "mlops-churn", ["mlops-churn", "mlops-churn-eu"])
    assert not owned("mlops-churn-eu-production", "mlops-churn", ["mlops-churn", "mlops-churn-eu"])
    assert owned("mlops-churn-eu-production", "mlops-churn-eu", ["mlops-churn", "mlops-churn-eu"])


def test_plan_orders_a_project_as_aws_requires_and_deletes_nothing(platform: None) -> None:
    before = names()
    plan = plan_teardown(clients, prefix="mlops", targets=["Project-churn"])
    kinds = [step.kind for step in plan.steps]
    assert kinds == [
        "scaling policy", "scalable target", "endpoint", "endpoint", "endpoint config", "endpoint config", "model", "CloudFormation stack",
    ]
    assert sorted(s.name for s in plan.steps if s.kind == "endpoint") == ["mlops-churn-production", "mlops-churn-staging"]
    assert all("churn-eu" not in step.name for step in plan.steps)
    assert any("AWS::S3::Bucket" in item and "mlops-project-churn" in item for item in plan.retained)
    # moto's own SageMaker cannot list monitoring schedules (the kit's server shim can, and an
    # in-process test may have loaded it): either the plan says it could not list them, or the
    # listing answered and found none (no schedule step above).
    try:
        clients("sagemaker").list_monitoring_schedules()
    except (NotImplementedError, ClientError):
        assert any("monitoring schedules" in note for note in plan.notes)
    else:
        assert not any("monitoring schedules" in note for note in plan.notes)
    assert names() == before


def test_run_removes_one_project_and_keeps_the_other_and_the_retained_bucket(platform: None) -> None:
    bucket = clients("s3").list_buckets()["Buckets"]
    plan = plan_teardown(clients, prefix="mlops", targets=["Project-churn"])
    result = run_teardown(plan, poll=0, timeout=30)
    assert result.ok, result.failed
    left = names()
    assert left["models"] == ["mlops-churn-eu-r7"]
    assert left["endpoints"] == ["mlops-churn-eu-production", "mlops-churn-eu-staging"]
    assert left["configs"] == ["mlops-churn-eu-production-r7", "mlops-churn-eu-staging-r7"]
    assert left["targets"] == ["endpoint/mlops-churn-eu-production/variant/AllTraffic"]
    assert "mlops-project-churn" not in left["stacks"] and "mlops-project-churn-eu" in left["stacks"]
    assert "CloudFormation stack mlops-project-churn" in result.deleted
    # The retained bucket outlives its stack.
    assert clients("s3").list_buckets()["Buckets"] == bucket


def test_all_removes_projects_then_shared_assets_then_delivery_access_then_backbone(platform: None) -> None:
    retained_bucket_stack("mlops-delivery-access")
    plan = plan_teardown(clients, prefix="mlops", everything=True)
    stacks = [step.name for step in plan.steps if step.kind == "CloudFormation stack"]
    assert stacks == ["mlops-project-churn", "mlops-project-churn-eu", "mlops-shared-assets", "mlops-delivery-access", "mlops-backbone"]
    result = run_teardown(plan, poll=0, timeout=30)
    assert result.ok, result.failed
    assert names() == {"models": [], "configs": [], "endpoints": [], "targets": [], "stacks": []}
    assert len(result.retained) == 5  # one retained bucket per stack, each listed with its physical ID
    assert all(item.startswith("AWS::S3::Bucket ") for item in result.retained)


@pytest.mark.parametrize(
    ("targets", "needle"),
    [
        (["SharedAssets"], "churn, churn-eu still read the platform"),
        (["Backbone"], "still read the platform"),
        (["Studio"], "allowed: Project-NAME, SharedAssets, DeliveryAccess, Backbone or --all"),
        ([], "name what to remove"),
    ],
)
def test_fails_if_the_target_would_strand_what_reads_it(platform: None, targets: list[str], needle: str) -> None:
    with pytest.raises(KitError, match=needle):
        plan_teardown(clients, prefix="mlops", targets=targets)


def test_studio_goes_apps_then_spaces_then_profiles_then_domain_retaining_home_efs() -> None:
    """moto has no Studio app, space or profile API: botocore's Stubber checks every request against the service model."""
    sm = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sm)
    domain = "d-abc123"
    stub.add_response("list_apps", {"Apps": [
        {"DomainId": domain, "UserProfileName": "alice", "AppType": "JupyterServer", "AppName": "default", "Status": "InService"},
        {"DomainId": domain, "SpaceName": "team", "AppType": "JupyterLab", "AppName": "default", "Status": "InService"},
        {"DomainId": domain, "UserProfileName": "bob", "AppType": "KernelGateway", "AppName": "old", "Status": "Deleted"},
    ]}, {"DomainIdEquals": domain})
    stub.add_response("list_spaces", {"Spaces": [{"DomainId": domain, "SpaceName": "team"}]}, {"DomainIdEquals": domain})
    stub.add_response("list_user_profiles", {"UserProfiles": [{"DomainId": domain, "UserProfileName": "alice"}]}, {"DomainIdEquals": domain})
    stub.add_response("describe_domain", {"DomainId": domain, "HomeEfsFileSystemId": "fs-0123"}, {"DomainId": domain})
    alice_app = {"DomainId": domain, "AppType": "JupyterServer", "AppName": "default", "UserProfileName": "alice"}
    space_app = {"DomainId": domain, "AppType": "JupyterLab", "AppName": "default", "SpaceName": "team"}
    # Run: each deletion, then its describe until gone (an app first reports Deleting).
    stub.add_response("delete_app", {}, alice_app)
    stub.add_response("describe_app", {"Status": "Deleting"}, alice_app)
    stub.add_response("describe_app", {"Status": "Deleted"}, alice_app)
    stub.add_response("delete_app", {}, space_app)
    stub.add_response("describe_app", {"Status": "Deleted"}, space_app)
    stub.add_response("delete_space", {}, {"DomainId": domain, "SpaceName": "team"})
    stub.add_client_error("describe_space", "ResourceNotFound", expected_params={"DomainId": domain, "SpaceName": "team"})
    stub.add_response("delete_user_profile", {}, {"DomainId": domain, "UserProfileName": "alice"})
    stub.add_client_error("describe_user_profile", "ResourceNotFound", expected_params={"DomainId": domain, "UserProfileName": "alice"})
    stub.add_response("delete_domain", {}, {"DomainId": domain, "RetentionPolicy": {"HomeEfsFileSystem": "Retain"}})
    stub.add_client_error("describe_domain", "ResourceNotFound", expected_params={"DomainId": domain})
    with stub, mock_aws():
        planner = Planner(lambda service: sm if service == "sagemaker" else clients(service), "mlops")
        steps, retained = planner.studio_steps(domain, "mlops-shared-assets")
        assert [s.kind for s in steps] == ["Studio app", "Studio app", "Studio space", "Studio user profile", "Studio domain"]
        assert retained == ["EFS file system fs-0123 (Studio home folders of d-abc123), in stack mlops-shared-assets's VPC"]
        progress: list[str] = []
        from mlops_kit.teardown import TeardownPlan

        result = run_teardown(TeardownPlan(["SharedAssets"], steps, retained, []), poll=0, timeout=30, progress=progress.append)
        assert result.ok, result.failed
        assert any("waiting for Studio app alice/JupyterServer/default" in line for line in progress)
        stub.assert_no_pending_responses()


def test_a_deletion_that_never_finishes_stops_at_the_timeout() -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sm)
    key = {"DomainId": "d-abc123", "AppType": "JupyterServer", "AppName": "default", "UserProfileName": "alice"}
    stub.add_response("delete_app", {}, key)
    for _ in range(50):
        stub.add_response("describe_app", {"Status": "Deleting"}, key)
    from mlops_kit.teardown import Step, TeardownPlan

    step = Step("Studio app", "alice", "s", lambda: sm.delete_app(**key), lambda: sm.describe_app(**key)["Status"] == "Deleted")
    with stub:
        result = run_teardown(TeardownPlan(["SharedAssets"], [step], [], []), poll=0.01, timeout=0.05)
    assert not result.ok and "still there after" in result.failed[0]


def test_destroy_command_plans_then_deletes_in_the_embedded_aws(tmp_path: Any) -> None:
    """The real ``mlops-kit destroy`` process against a moto server: dry run first, then ``--yes``."""
    import os
    import subprocess
    import sys

    from mlops_kit.local import EmbeddedAws
    from tests.conftest import ROOT

    with EmbeddedAws() as aws:
        cfn = aws.client("cloudformation")
        template = {"Resources": {"Data": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}}}
        cfn.create_stack(StackName="mlops-project-credit-risk", TemplateBody=json.dumps(template))
        sm = aws.client("sagemaker")
        sm.create_model(ModelName="mlops-credit-risk-r1", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        env = {**os.environ, **aws.env, "PYTHONPATH": str(ROOT)}

        def destroy(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "mlops_kit", "destroy", "Project-credit-risk", *args],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)

        dry = destroy()
        assert dry.returncode == 0, dry.stderr
        assert "1. delete model mlops-credit-risk-r1" in dry.stdout
        assert "2. delete CloudFormation stack mlops-project-credit-risk (then wait until gone)" in dry.stdout
        assert "dry run: nothing deleted" in dry.stdout
        assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["mlops-credit-risk-r1"]

        done = destroy("--yes")
        assert done.returncode == 0, done.stderr
        assert "destroy: ok: 2 deleted, 1 retained" in done.stdout
        assert sm.list_models()["Models"] == []
        assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in cfn.describe_stacks()["Stacks"])
        assert len(aws.client("s3").list_buckets()["Buckets"]) == 1  # the retained bucket stays
