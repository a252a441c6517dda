"""Network: isolated by default, the endpoints SageMaker needs, encrypted flow logs."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from mlops_kit.constructs.network import Network
from mlops_kit.errors import PropsError


def network_template(**overrides: object) -> Template:
    stack = cdk.Stack(cdk.App())
    props: dict[str, object] = {
        "cidr": "10.40.0.0/16",
        "az_count": 2,
        "internet": "none",
        "interface_endpoints": ["sagemaker_api", "studio", "sts"],
        "logs_key": kms.Key(stack, "Logs"),
        "flow_logs_retention": logs.RetentionDays.ONE_YEAR,
    }
    props.update(overrides)
    Network(stack, "Network", **props)  # type: ignore[arg-type]
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def isolated() -> Template:
    return network_template()


def test_no_internet_gateway_or_nat_by_default(isolated: Template) -> None:
    isolated.resource_count_is("AWS::EC2::InternetGateway", 0)
    isolated.resource_count_is("AWS::EC2::NatGateway", 0)
    isolated.resource_count_is("AWS::EC2::Subnet", 2)
    isolated.has_resource_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})


def test_s3_gateway_endpoint_always_exists(isolated: Template) -> None:
    isolated.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"VpcEndpointType": "Gateway", "ServiceName": Match.object_like({"Fn::Join": Match.any_value()})},
    )


def test_studio_endpoint_uses_the_aws_sagemaker_service_name(isolated: Template) -> None:
    endpoints = isolated.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    names = [str(resource["Properties"]["ServiceName"]) for resource in endpoints.values()]
    assert len(names) == 3
    assert any("aws.sagemaker." in name and ".studio" in name for name in names)
    assert any("com.amazonaws." in name and ".sts" in name for name in names)
    for resource in endpoints.values():
        assert resource["Properties"]["PrivateDnsEnabled"] is True


def test_endpoint_security_group_allows_only_https_from_the_vpc(isolated: Template) -> None:
    isolated.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "Interface endpoints: HTTPS from inside the VPC only",
            "SecurityGroupIngress": [
                Match.object_like({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": {"Fn::GetAtt": Match.any_value()}})
            ],
        },
    )


def test_flow_logs_are_encrypted_and_retained(isolated: Template) -> None:
    isolated.has_resource("AWS::Logs::LogGroup", {
        "Properties": {"KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("Logs"), "Arn"]}, "RetentionInDays": 365},
        "DeletionPolicy": "Retain",
    })
    isolated.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})


def internet_egress(template: Template) -> list[dict[str, object]]:
    """Egress rules to 0.0.0.0/0, standalone or inline in a security group."""
    rules = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()]
    for group in template.find_resources("AWS::EC2::SecurityGroup").values():
        rules += group["Properties"].get("SecurityGroupEgress", [])
    return [r for r in rules if r.get("CidrIp") == "0.0.0.0/0"]


def test_egress_mode_adds_one_nat_per_az_and_https_to_the_internet() -> None:
    template = network_template(internet="egress")
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    template.resource_count_is("AWS::EC2::NatGateway", 2)
    # configured internet: then, and only then, HTTPS may leave through NAT
    assert [r["FromPort"] for r in internet_egress(template)] == [443]


def test_without_internet_nothing_egresses_to_0_0_0_0(isolated: Template) -> None:
    assert internet_egress(isolated) == []
    isolated.has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "Description": "HTTPS to the VPC's interface endpoints", "FromPort": 443,
        "DestinationSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("EndpointSecurityGroup"), "GroupId"]},
    })
    isolated.has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "Description": "HTTPS to S3 through the gateway endpoint", "FromPort": 443,
        "DestinationPrefixListId": {"Fn::GetAtt": [Match.string_like_regexp("S3PrefixList"), "PrefixLists.0.PrefixListId"]},
    })


def test_every_endpoint_takes_a_policy_for_the_platform_accounts() -> None:
    template = network_template(platform_accounts=["222222222222"])
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 4
    for endpoint in endpoints.values():
        text = str(endpoint["Properties"]["PolicyDocument"])
        assert "222222222222" in text and "AWS::AccountId" in text


def test_flow_logs_can_be_switched_off() -> None:
    network_template(flow_logs_retention=None).resource_count_is("AWS::EC2::FlowLog", 0)


def test_fails_if_internet_mode_is_unknown() -> None:
    with pytest.raises(PropsError, match=r"^Network: internet: got 'public'; allowed: 'none' or 'egress'$"):
        network_template(internet="public")


def test_fails_if_endpoint_is_unknown() -> None:
    with pytest.raises(PropsError, match=r"Network: interface_endpoints: unknown \['s4'\]"):
        network_template(interface_endpoints=["s4"])


def test_fails_if_az_count_is_zero() -> None:
    with pytest.raises(PropsError, match="Network: az_count: got 0; allowed: 1 to 6"):
        network_template(az_count=0)
