"""Check, with a describe/list call per resource, that what CloudFormation reports exists.

moto's CloudFormation answers ``CREATE_COMPLETE`` for resources it silently skipped, so a stack's
status proves little. ``Verifier.check(cfn_type, physical_id, properties)`` asks the service that
owns the type; it returns ``None`` when the resource is there, a reason string when it is not,
and raises ``KeyError`` for types without a verifier (those are reported "unchecked").

Physical ids are what moto's ``ListStackResources`` returns, which is not always what AWS
returns: for ``AWS::EC2::SubnetRouteTableAssociation`` moto gives the route table id (and keeps
the association where no API shows it, see ``UNVERIFIABLE``), and for ``AWS::IAM::Policy`` a
generated name instead of the policy name. The checks below take both forms. EC2 lookups are batched: one describe call per type, cached for the verifier's lifetime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

Check = Callable[["Verifier", str, Mapping[str, Any]], str | None]


def _last(physical_id: str) -> str:
    """The name at the end of an ARN (``...:rule/name`` -> ``name``), or the id itself."""
    if physical_id.startswith("arn:"):
        tail = physical_id.split(":", 5)[-1]
        return tail.split("/", 1)[-1] if "/" in tail else tail
    return physical_id


# Types whose moto model has no physical id (``ListStackResources`` gives an empty one) although
# AWS would give the name: the name property is used instead when it is a literal.
NAME_FOR_MISSING_PHYSICAL_ID = {
    "AWS::Events::EventBus": "Name",
}


def _physical_id_from_properties(cfn_type: str, properties: Mapping[str, Any]) -> str:
    value = properties.get(NAME_FOR_MISSING_PHYSICAL_ID.get(cfn_type, ""))
    return value if isinstance(value, str) else ""


class Verifier:
    """Describe calls against the embedded AWS. ``client_factory(service)`` makes boto3 clients."""

    def __init__(self, client_factory: Callable[[str], Any]) -> None:
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self._ec2_cache: dict[str, set[str]] = {}
        self.physical_ids: dict[str, str] = {}  # logical id -> physical id, for Ref in properties

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def has_check(self, cfn_type: str) -> bool:
        return cfn_type in CHECKS

    def check(
        self, cfn_type: str, physical_id: str, properties: Mapping[str, Any] | None = None
    ) -> str | None:
        check = CHECKS[cfn_type]  # KeyError: no verifier for this type
        if not physical_id:
            physical_id = _physical_id_from_properties(cfn_type, properties or {})
        if not physical_id:
            return "CloudFormation reports no physical id"
        try:
            return check(self, physical_id, properties or {})
        except ClientError as error:
            return f"{error.response.get('Error', {}).get('Code', 'Error')}: {error}"

    def resolve_ref(self, value: Any) -> Any:
        if isinstance(value, Mapping) and set(value) == {"Ref"}:
            return self.physical_ids.get(str(value["Ref"]), value["Ref"])
        return value

    # -- EC2, batched -------------------------------------------------------------------------
    def ec2_ids(self, kind: str) -> set[str]:
        if kind not in self._ec2_cache:
            ec2 = self.client("ec2")
            method, key, field = _EC2_LISTS[kind]
            ids: set[str] = set()
            for page in (
                ec2.get_paginator(method).paginate() if ec2.can_paginate(method) else [getattr(ec2, method)()]
            ):
                for item in page[key]:
                    # moto keeps deleted endpoints and NAT gateways around with state "deleted".
                    if str(item.get("State", item.get("state", ""))).lower() not in ("deleted", "deleting"):
                        ids.add(item[field])
            self._ec2_cache[kind] = ids
        return self._ec2_cache[kind]


_EC2_LISTS: dict[str, tuple[str, str, str]] = {
    "vpcs": ("describe_vpcs", "Vpcs", "VpcId"),
    "subnets": ("describe_subnets", "Subnets", "SubnetId"),
    "route_tables": ("describe_route_tables", "RouteTables", "RouteTableId"),
    "security_groups": ("describe_security_groups", "SecurityGroups", "GroupId"),
    "vpc_endpoints": ("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId"),
    "internet_gateways": ("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    "nat_gateways": ("describe_nat_gateways", "NatGateways", "NatGatewayId"),
    "network_interfaces": ("describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId"),
    "flow_logs": ("describe_flow_logs", "FlowLogs", "FlowLogId"),
    "launch_templates": ("describe_launch_templates", "LaunchTemplates", "LaunchTemplateId"),
    "volumes": ("describe_volumes", "Volumes", "VolumeId"),
}


def _ec2(kind: str, label: str) -> Check:
    def check(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
        return None if physical_id in v.ec2_ids(kind) else f"{label} {physical_id} not found by describe"

    return check


def _eip(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    addresses = v.client("ec2").describe_addresses()["Addresses"]
    ok = any(physical_id in (a.get("PublicIp"), a.get("AllocationId")) for a in addresses)
    return None if ok else f"EIP {physical_id} not found"


def _instance(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    found = v.client("ec2").describe_instances(InstanceIds=[physical_id])["Reservations"]
    return None if found else f"instance {physical_id} not found"


# -- other services ---------------------------------------------------------------------------
def _kms_key(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    meta = v.client("kms").describe_key(KeyId=physical_id)["KeyMetadata"]
    return None if meta.get("KeyState") in ("Enabled", "Disabled") else f"key state {meta.get('KeyState')}"


def _kms_alias(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    names = {
        a["AliasName"]
        for page in v.client("kms").get_paginator("list_aliases").paginate()
        for a in page["Aliases"]
    }
    return None if physical_id in names else f"alias {physical_id} not listed"


def _s3_bucket(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("s3").head_bucket(Bucket=physical_id)
    return None


def _iam_role(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("iam").get_role(RoleName=_last(physical_id))
    return None


def _iam_policy(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    name = props.get("PolicyName")
    if not isinstance(name, str):
        name = physical_id
    iam = v.client("iam")
    holders = [
        ("Roles", "RoleName", iam.list_role_policies),
        ("Users", "UserName", iam.list_user_policies),
        ("Groups", "GroupName", iam.list_group_policies),
    ]
    for prop, arg, lister in holders:
        for holder in props.get(prop) or []:
            holder_name = v.resolve_ref(holder)
            if not isinstance(holder_name, str):
                continue
            if name not in lister(**{arg: _last(holder_name)})["PolicyNames"]:
                return f"inline policy {name} not attached to {prop[:-1].lower()} {holder_name}"
    return None


def _iam_managed_policy(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("iam").get_policy(PolicyArn=physical_id)
    return None


def _iam_instance_profile(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("iam").get_instance_profile(InstanceProfileName=_last(physical_id))
    return None


def _iam_user(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("iam").get_user(UserName=_last(physical_id))
    return None


def _ssm_parameter(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("ssm").get_parameter(Name=physical_id)
    return None


def _lambda_function(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("lambda").get_function(FunctionName=physical_id)
    return None


def _log_group(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    groups = v.client("logs").describe_log_groups(logGroupNamePrefix=physical_id)["logGroups"]
    return (
        None
        if any(g["logGroupName"] == physical_id for g in groups)
        else f"log group {physical_id} not found"
    )


def _sns_topic(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("sns").get_topic_attributes(TopicArn=physical_id)
    return None


def _sqs_queue(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    sqs = v.client("sqs")
    url = (
        physical_id
        if physical_id.startswith("http")
        else sqs.get_queue_url(QueueName=_last(physical_id))["QueueUrl"]
    )
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return None


def _events_rule(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    name = _last(physical_id)
    bus = props.get("EventBusName")
    kwargs = {"Name": name.split("|")[-1]}
    if isinstance(bus, str):
        kwargs["EventBusName"] = bus
    v.client("events").describe_rule(**kwargs)
    return None


def _event_bus(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("events").describe_event_bus(Name=_last(physical_id))
    return None


def _ecr_repository(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("ecr").describe_repositories(repositoryNames=[_last(physical_id)])
    return None


def _dynamodb_table(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("dynamodb").describe_table(TableName=_last(physical_id))
    return None


def _state_machine(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("stepfunctions").describe_state_machine(stateMachineArn=physical_id)
    return None


def _sagemaker(method: str, arg: str) -> Check:
    def check(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
        getattr(v.client("sagemaker"), method)(**{arg: _last(physical_id)})
        return None

    return check


def _dashboard(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("cloudwatch").get_dashboard(DashboardName=_last(physical_id))
    return None


def _efs(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("efs").describe_file_systems(FileSystemId=physical_id)
    return None


def _ecs_cluster(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    found = v.client("ecs").describe_clusters(clusters=[physical_id])["clusters"]
    return None if found else f"cluster {physical_id} not found"


def _kinesis(v: Verifier, physical_id: str, props: Mapping[str, Any]) -> str | None:
    v.client("kinesis").describe_stream_summary(StreamName=_last(physical_id))
    return None


# Types a describe call cannot confirm in moto, and why (reported as "unchecked").
UNVERIFIABLE: dict[str, str] = {
    "AWS::EC2::SubnetRouteTableAssociation": (
        "moto's CloudFormation records the association in an internal list that DescribeRouteTables "
        "does not show, so no API call can confirm it"
    ),
}

CHECKS: dict[str, Check] = {
    "AWS::EC2::VPC": _ec2("vpcs", "VPC"),
    "AWS::EC2::Subnet": _ec2("subnets", "subnet"),
    "AWS::EC2::RouteTable": _ec2("route_tables", "route table"),
    "AWS::EC2::SecurityGroup": _ec2("security_groups", "security group"),
    "AWS::EC2::VPCEndpoint": _ec2("vpc_endpoints", "VPC endpoint"),
    "AWS::EC2::InternetGateway": _ec2("internet_gateways", "internet gateway"),
    "AWS::EC2::NatGateway": _ec2("nat_gateways", "NAT gateway"),
    "AWS::EC2::NetworkInterface": _ec2("network_interfaces", "network interface"),
    "AWS::EC2::FlowLog": _ec2("flow_logs", "flow log"),
    "AWS::EC2::LaunchTemplate": _ec2("launch_templates", "launch template"),
    "AWS::EC2::Volume": _ec2("volumes", "volume"),
    "AWS::EC2::EIP": _eip,
    "AWS::EC2::Instance": _instance,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::IAM::Role": _iam_role,
    "AWS::IAM::Policy": _iam_policy,
    "AWS::IAM::ManagedPolicy": _iam_managed_policy,
    "AWS::IAM::InstanceProfile": _iam_instance_profile,
    "AWS::IAM::User": _iam_user,
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::SNS::Topic": _sns_topic,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::Events::Rule": _events_rule,
    "AWS::Events::EventBus": _event_bus,
    "AWS::ECR::Repository": _ecr_repository,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::SageMaker::Model": _sagemaker("describe_model", "ModelName"),
    "AWS::SageMaker::EndpointConfig": _sagemaker("describe_endpoint_config", "EndpointConfigName"),
    "AWS::SageMaker::Endpoint": _sagemaker("describe_endpoint", "EndpointName"),
    "AWS::SageMaker::NotebookInstance": _sagemaker("describe_notebook_instance", "NotebookInstanceName"),
    "AWS::SageMaker::NotebookInstanceLifecycleConfig": _sagemaker(
        "describe_notebook_instance_lifecycle_config", "NotebookInstanceLifecycleConfigName"
    ),
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::EFS::FileSystem": _efs,
    "AWS::ECS::Cluster": _ecs_cluster,
    "AWS::Kinesis::Stream": _kinesis,
}
