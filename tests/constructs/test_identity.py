"""Identity: persona roles under one boundary, least privilege, the execution role."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from mlops_kit.config.backbone import PERSONAS
from mlops_kit.constructs.identity import (
    PermissionBoundary,
    PersonaRoles,
    SageMakerExecutionRole,
    persona_grants,
)
from mlops_kit.errors import PropsError

ENGINEER = "arn:aws:iam::111122223333:role/Engineer"


def build(principals: dict[str, list[str]] | None = None) -> Template:
    stack = cdk.Stack(cdk.App())
    boundary = PermissionBoundary(stack, "Boundary", prefix="kit")
    PersonaRoles(stack, "Personas", prefix="kit", principals=principals or {}, boundary=boundary.policy)
    SageMakerExecutionRole(stack, "Execution", prefix="kit", data_key=kms.Key(stack, "Key"), boundary=boundary.policy)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return build({"ml_engineer": [ENGINEER]})


def test_one_role_per_persona_plus_execution_role(template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    names = sorted(r["Properties"].get("RoleName", "") for r in roles.values())
    assert [n for n in names if n] == sorted(f"kit-{p.replace('_', '-')}" for p in PERSONAS)
    assert len(roles) == len(PERSONAS) + 1


def test_every_role_has_the_kit_boundary(template: Template) -> None:
    for role in template.find_resources("AWS::IAM::Role").values():
        assert role["Properties"]["PermissionsBoundary"] == {"Ref": Match.string_like_regexp("Boundary")} or "Ref" in role["Properties"]["PermissionsBoundary"]


def test_boundary_denies_leaving_the_vpc_and_removing_itself(template: Template) -> None:
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "ManagedPolicyName": "kit-permission-boundary",
        "PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({"Sid": "NoNewUsersOrKeys", "Effect": "Deny"}),
            Match.object_like({"Sid": "BoundaryCannotBeChangedOrRemoved", "Effect": "Deny"}),
            Match.object_like({"Sid": "SageMakerComputeOnlyInsideTheVpc", "Effect": "Deny", "Condition": {"Null": {"sagemaker:VpcSubnets": "true"}}}),
        ])},
    })


def test_configured_principals_are_trusted_and_nobody_else(template: Template) -> None:
    template.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "kit-ml-engineer",
        "AssumeRolePolicyDocument": {"Statement": [
            Match.object_like({"Action": "sts:AssumeRole", "Principal": {"AWS": ENGINEER}}),
            # People bring their name as source identity; Studio profiles check it.
            Match.object_like({"Action": "sts:SetSourceIdentity", "Principal": {"AWS": ENGINEER}}),
        ]},
    })


def test_unconfigured_personas_trust_only_their_own_account(template: Template) -> None:
    role = next(r for r in template.find_resources("AWS::IAM::Role").values() if r["Properties"].get("RoleName") == "kit-data-scientist")
    principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert "root" in json.dumps(principal) and "AWS::AccountId" in json.dumps(principal)


def test_no_persona_can_touch_iam_write_or_full_access(template: Template) -> None:
    for name, policy in template.find_resources("AWS::IAM::ManagedPolicy").items():
        if "Boundary" in name:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions
            assert not [a for a in actions if a.endswith(":*") and not a.startswith("sagemaker-mlflow")], (name, actions)
            assert not [a for a in actions if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List", "iam:Generate"))]
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"] or all(
            "arn:aws:iam::aws:policy" not in json.dumps(arn) for arn in role["Properties"]["ManagedPolicyArns"]
        )


def test_only_fullstack_developers_invoke_endpoints() -> None:
    invokers = [p for p, grants in persona_grants("kit").items() if any("sagemaker:InvokeEndpoint" in g.actions for g in grants)]
    assert invokers == ["fullstack_developer"]


def test_only_mlops_engineers_approve_models_and_nobody_who_registers() -> None:
    grants = persona_grants("kit")
    approvers = [p for p, gs in grants.items() if any("sagemaker:UpdateModelPackage" in g.actions for g in gs)]
    registrars = [p for p, gs in grants.items() if any("sagemaker:CreateModelPackage" in g.actions for g in gs)]
    assert approvers == ["mlops_engineer"]
    assert registrars == ["ml_engineer"]


def test_ml_engineers_register_only_pending_packages() -> None:
    register = next(g for g in persona_grants("kit")["ml_engineer"] if "sagemaker:CreateModelPackage" in g.actions)
    assert register.conditions == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}


def test_execution_role_is_assumed_by_sagemaker_only(template: Template) -> None:
    template.has_resource_properties("AWS::IAM::Role", {
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]},
        "Description": "kit: SageMaker execution role for Studio and shared jobs",
    })


def test_fails_if_principals_name_an_unknown_persona() -> None:
    with pytest.raises(PropsError, match=r"PersonaRoles: principals: unknown persona\(s\) \['wizard'\]"):
        build({"wizard": [ENGINEER]})
