"""The defects of issue 16, closed: who approves, the data perimeter, the boundary, notifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_kit.config import KitConfig, load_project
from mlops_kit.constructs.identity import VPC_ONLY_ACTIONS
from mlops_kit.errors import ConfigError
from mlops_kit.execution_policy import CFN_TO_IAM, SERVICES, render
from tests.conftest import ROOT
from tests.security.conftest import FRAUD_APPROVER, FRAUD_EMAIL


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_vpc_endpoint_has_a_policy(templates: dict[str, dict[str, Any]], default_config: KitConfig) -> None:
    endpoints = resources(templates["Backbone"], "AWS::EC2::VPCEndpoint")
    # the interface endpoints the enabled features need, and the S3 gateway
    assert len(endpoints) == len(default_config.interface_endpoint_names()) + 1
    for logical_id, endpoint in endpoints.items():
        statements = endpoint["Properties"]["PolicyDocument"]["Statement"]
        text = json.dumps(statements)
        if endpoint["Properties"].get("VpcEndpointType") == "Gateway":
            assert "aws:ResourceAccount" in text and "starport-layer-bucket" in text, logical_id
            allowed_anywhere = [s for s in statements if "Condition" not in s]
            # only the AWS-owned buckets, read-only, are allowed without the account condition
            assert [s["Action"] for s in allowed_anywhere] == ["s3:GetObject"]
        else:
            assert statements == [
                {
                    "Sid": "PlatformAccountsOnly",
                    "Action": "*",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalAccount": [{"Ref": "AWS::AccountId"}]}},
                }
            ], logical_id


def _egress_rules(templates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for template in templates.values():
        for group in resources(template, "AWS::EC2::SecurityGroup").values():
            rules += group["Properties"].get("SecurityGroupEgress", [])
        rules += [r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()]
    return rules


def test_no_egress_goes_to_the_internet(templates: dict[str, dict[str, Any]]) -> None:
    rules = _egress_rules(templates)
    assert rules
    for rule in rules:
        assert rule.get("CidrIp") not in ("0.0.0.0/0",) and rule.get("CidrIpv6") != "::/0", rule


def test_workload_https_goes_to_the_endpoints_and_the_s3_prefix_list(templates: dict[str, dict[str, Any]]) -> None:
    backbone = templates["Backbone"]
    workload = next(lid for lid in resources(backbone, "AWS::EC2::SecurityGroup") if "WorkloadSecurityGroup" in lid)
    endpoint_group = next(lid for lid in resources(backbone, "AWS::EC2::SecurityGroup") if "EndpointSecurityGroup" in lid)
    https = [
        r["Properties"] for r in resources(backbone, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [workload, "GroupId"]} and r["Properties"]["FromPort"] == 443
    ]
    destinations = sorted(next(k for k in rule if k.startswith(("Destination", "Cidr"))) for rule in https)
    assert destinations == ["DestinationPrefixListId", "DestinationSecurityGroupId"]
    to_group = next(r for r in https if "DestinationSecurityGroupId" in r)
    assert to_group["DestinationSecurityGroupId"] == {"Fn::GetAtt": [endpoint_group, "GroupId"]}
    # the prefix list is read at deploy time, for this region's S3
    lookup = next(r for r in backbone["Resources"].values() if r["Type"] == "Custom::AWS")
    assert "describeManagedPrefixLists" in json.dumps(lookup["Properties"]["Create"])


def test_boundary_keeps_compute_inside_the_vpc_and_packages_pending(templates: dict[str, dict[str, Any]]) -> None:
    boundary = next(
        r for r in resources(templates["Backbone"], "AWS::IAM::ManagedPolicy").values()
        if r["Properties"].get("ManagedPolicyName") == "mlops-permission-boundary"
    )
    by_sid = {s["Sid"]: s for s in boundary["Properties"]["PolicyDocument"]["Statement"]}
    vpc = by_sid["SageMakerComputeOnlyInsideTheVpc"]
    assert vpc["Effect"] == "Deny" and vpc["Condition"] == {"Null": {"sagemaker:VpcSubnets": "true"}}
    assert {"sagemaker:CreateModel", "sagemaker:CreateAutoMLJob", "sagemaker:CreateAutoMLJobV2"} <= set(vpc["Action"])
    assert set(vpc["Action"]) == set(VPC_ONLY_ACTIONS)
    assert by_sid["NoLabelingJobs"]["Effect"] == "Deny"
    pending = by_sid["ModelPackagesStartPending"]
    assert pending["Effect"] == "Deny"
    assert pending["Condition"] == {"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    linked = by_sid["AutoScalingServiceLinkedRoleOnly"]
    assert linked["Condition"] == {"StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}}


def _approval_policy(template: dict[str, Any]) -> dict[str, Any]:
    return next(r for lid, r in resources(template, "AWS::IAM::Policy").items() if lid.startswith("ProductionApprovers"))


def test_default_approvers_are_the_team_and_the_mlops_engineers(templates: dict[str, dict[str, Any]]) -> None:
    policy = _approval_policy(templates["Project-credit-risk"])["Properties"]
    roles = json.dumps(policy["Roles"])
    assert "TeamRole" in roles and '"mlops-mlops-engineer"' in roles and len(policy["Roles"]) == 2
    answer = next(s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "AnswerTaskToken")
    # no resource-level permissions exist for these actions: anything else never matches
    assert answer["Resource"] == "*"
    assert sorted(answer["Action"]) == ["states:SendTaskFailure", "states:SendTaskSuccess"]


def test_a_project_names_its_own_approvers(templates: dict[str, dict[str, Any]]) -> None:
    roles = json.dumps(_approval_policy(templates["Project-fraud"])["Properties"]["Roles"])
    assert "TeamRole" in roles and '"mlops-project-manager"' in roles and FRAUD_APPROVER.rsplit('/', 1)[-1] in roles
    assert "mlops-mlops-engineer" not in roles and "ml-engineer" not in roles


def test_approval_and_alarm_topics_and_the_budget_reach_the_configured_address(templates: dict[str, dict[str, Any]]) -> None:
    fraud = templates["Project-fraud"]
    subscriptions = resources(fraud, "AWS::SNS::Subscription").values()
    topics = sorted(json.dumps(s["Properties"]["TopicArn"]) for s in subscriptions if s["Properties"]["Endpoint"] == FRAUD_EMAIL)
    assert len(topics) == 2 and "ApprovalTopic" in topics[0] + topics[1] and "AlarmTopic" in topics[0] + topics[1]
    alarms = resources(fraud, "AWS::CloudWatch::Alarm").values()
    rollback = [a for a in alarms if "rolls back" in a["Properties"].get("AlarmDescription", "")]
    assert len(rollback) == 2
    for alarm in rollback:
        assert "AlarmTopic" in json.dumps(alarm["Properties"]["AlarmActions"])
    # The budget notifies the same topic (which the address is subscribed to), actual and forecasted.
    budget = next(iter(resources(fraud, "AWS::Budgets::Budget").values()))
    subscribers = [s for n in budget["Properties"]["NotificationsWithSubscribers"] for s in n["Subscribers"]]
    assert [s["SubscriptionType"] for s in subscribers] == ["SNS", "SNS"]
    assert all("AlarmTopic" in json.dumps(s["Address"]) for s in subscribers)
    topic_policy = next(p for p in resources(fraud, "AWS::SNS::TopicPolicy").values() if "AlarmTopic" in json.dumps(p["Properties"]["Topics"]))
    publish = next(s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "BudgetsPublish")
    assert publish["Principal"] == {"Service": "budgets.amazonaws.com"} and "aws:SourceAccount" in publish["Condition"]["StringEquals"]


def test_alarms_may_publish_to_topics_encrypted_with_the_data_key(templates: dict[str, dict[str, Any]]) -> None:
    keys = resources(templates["Backbone"], "AWS::KMS::Key")
    data_key = next(k for lid, k in keys.items() if "DataKey" in lid)
    statement = next(s for s in data_key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchAlarmsOfThisAccountNotify")
    assert sorted(statement["Principal"]["Service"]) == ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]


def test_people_use_the_data_key_only_through_s3_and_sagemaker(templates: dict[str, dict[str, Any]]) -> None:
    keys = resources(templates["Backbone"], "AWS::KMS::Key")
    data_key = next(k for lid, k in keys.items() if "DataKey" in lid)
    personas = [s for s in data_key["Properties"]["KeyPolicy"]["Statement"] if str(s.get("Sid", "")).startswith("Persona")]
    assert len(personas) == 3
    for statement in personas:
        services = json.dumps(statement["Condition"]["StringEquals"]["kms:ViaService"])
        assert "s3." in services and "sagemaker." in services


def test_fails_if_an_ml_engineer_is_named_approver(tmp_path: Path) -> None:
    project = tmp_path / "churn.yaml"
    project.write_text("name: churn\ntemplate: tabular-training\napprovers: [ml_engineer]\n")
    with pytest.raises(ConfigError) as error:
        load_project(project, "mlops")
    message = str(error.value)
    assert "churn.yaml" in message and "approvers" in message and "separation of duties" in message
    assert "\n" not in message


def test_execution_policy_covers_every_resource_type_the_kit_deploys(templates: dict[str, dict[str, Any]]) -> None:
    services = set(SERVICES) | {"iam"}
    for name, template in templates.items():
        for resource in template["Resources"].values():
            kind = resource["Type"]
            if kind.startswith("Custom::") or kind == "AWS::CDK::Metadata":
                continue
            service = kind.split("::")[1]
            assert CFN_TO_IAM.get(service) in services, (name, kind)


def test_the_shipped_execution_policy_is_current() -> None:
    assert (ROOT / "docs" / "cdk-execution-policy.json").read_text() == render("mlops")
    document = json.loads(render("mlops"))
    # a managed policy holds at most 6,144 characters without whitespace
    assert len(json.dumps(document, separators=(",", ":"))) < 6144
    denied = {a for s in document["Statement"] if s["Effect"] == "Deny" for a in as_list(s["Action"])}
    assert {"iam:CreateUser", "iam:CreateAccessKey", "iam:DeleteRolePermissionsBoundary"} <= denied
