"""The VPC that SageMaker jobs, Studio and endpoints run in: private, no internet by default.

The data perimeter (issue 16): every endpoint carries an endpoint policy, so requests
through it reach only the platform's accounts. Interface endpoints: principals of those
accounts (``aws:PrincipalAccount``). The S3 gateway endpoint: buckets of those accounts
(``aws:ResourceAccount``) plus the AWS-owned buckets the workloads need, by name:
``prod-<region>-starport-layer-bucket``, where ECR keeps image layers (every SageMaker
image pull, built-in and custom: "Minimum Amazon S3 bucket permissions for Amazon ECR",
https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html), and
``jumpstart-cache-prod-<region>``, JumpStart's model catalogue that Studio reads. Endpoint
policies are IAM resource policies evaluated with the caller's own policies
(https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html).

Workload egress goes only to the endpoints' security group and to the region's S3 managed
prefix list (the gateway endpoint's destination), never to 0.0.0.0/0 unless ``internet:
egress`` is configured (then HTTPS may also leave through NAT). The prefix list's ID
differs per region and account view, so it is read at deploy time
(``DescribeManagedPrefixLists`` for ``com.amazonaws.<region>.s3`` through CDK's
``AwsCustomResource``); no lookup is made at synth.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_kit.config.backbone import INTERFACE_ENDPOINTS
from mlops_kit.errors import PropsError
from mlops_kit.nag import suppress

# The construct ID aws-cdk-lib gives the singleton Lambda of AwsCustomResource.
AWS_CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"


class Network(Construct):
    """A VPC with private subnets, the endpoints SageMaker needs, and encrypted flow logs.

    With ``internet="none"`` (the default) the subnets are isolated: no internet gateway,
    no NAT; AWS services are reached only through the S3 gateway endpoint and the
    interface endpoints named in ``interface_endpoints`` (see ``INTERFACE_ENDPOINTS`` for
    why each one exists). ``internet="egress"`` adds one NAT gateway per AZ for outbound
    traffic only (pip installs from notebooks, public model hubs). ``availability_zones``
    names the zones when the region is known (no AZ lookup is made at synth); without it,
    the stack's zones are used (``Fn::GetAZs`` for environment-agnostic stacks).

    ``endpoint_az_count`` places the interface endpoints in the first N zones only. An interface
    endpoint has one network interface per chosen subnet and is billed per AZ-hour
    (https://aws.amazon.com/privatelink/pricing/); with private DNS its name resolves in the whole
    VPC, so workloads in the other zones reach it across zones
    (https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html). The trade:
    fewer AZ-hours against cross-AZ data charges and losing AWS APIs in those zones when the
    endpoints' zone fails.

    ``platform_accounts`` are the other accounts of the platform (delivery environments,
    registry readers) that the endpoint policies admit besides this stack's own account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        az_count: int,
        internet: str,
        interface_endpoints: Sequence[str],
        logs_key: kms.IKey,
        flow_logs_retention: logs.RetentionDays | None,
        availability_zones: Sequence[str] | None = None,
        endpoint_az_count: int | None = None,
        platform_accounts: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._logs_key = logs_key
        if internet not in ("none", "egress"):
            raise PropsError("Network", "internet", f"got {internet!r}; allowed: 'none' or 'egress'")
        if not 1 <= az_count <= 6:
            raise PropsError("Network", "az_count", f"got {az_count}; allowed: 1 to 6")
        unknown = sorted(set(interface_endpoints) - set(INTERFACE_ENDPOINTS))
        if unknown:
            raise PropsError(
                "Network", "interface_endpoints", f"unknown {unknown}; allowed: {', '.join(sorted(INTERFACE_ENDPOINTS))}"
            )
        if endpoint_az_count is not None and not 1 <= endpoint_az_count <= az_count:
            raise PropsError("Network", "endpoint_az_count", f"got {endpoint_az_count}; allowed: 1 to az_count ({az_count})")
        egress = internet == "egress"
        private_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if egress else ec2.SubnetType.PRIVATE_ISOLATED
        subnets = [ec2.SubnetConfiguration(name="Private", subnet_type=private_type, cidr_mask=20)]
        if egress:
            # NAT gateways need a public subnet; nothing else is placed there.
            subnets.append(ec2.SubnetConfiguration(name="Egress", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=None if availability_zones else az_count,
            availability_zones=list(availability_zones) if availability_zones else None,
            nat_gateways=az_count if egress else 0,
            subnet_configuration=subnets,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            restrict_default_security_group=True,
        )
        self.subnet_selection = ec2.SubnetSelection(subnet_type=private_type)

        if flow_logs_retention is not None:
            flow_log_group = logs.LogGroup(
                self,
                "FlowLogs",
                encryption_key=logs_key,
                retention=flow_logs_retention,
                removal_policy=RemovalPolicy.RETAIN,
            )
            flow_role = iam.Role(
                self, "FlowLogsRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com")
            )
            self.vpc.add_flow_log(
                "FlowLog",
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, flow_role),
                traffic_type=ec2.FlowLogTrafficType.ALL,
            )

        # S3 is always reachable through the (free) gateway endpoint: training data,
        # model artifacts and ECR image layers all come from S3.
        accounts = sorted({Aws.ACCOUNT_ID, *platform_accounts})
        self.s3_endpoint = self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        for statement in s3_endpoint_statements(accounts):
            self.s3_endpoint.add_to_policy(statement)

        # One security group for every interface endpoint: HTTPS from inside the VPC only.
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        suppress(
            self.endpoint_security_group,
            "CdkNagValidationFailure",
            "AwsSolutions-EC23 and NIST.800.53.R5-EC2RestrictedSSH/EC2RestrictedCommonPorts cannot read the VPC CIDR "
            "token; the only ingress is TCP 443 from this VPC's own CIDR and from the workload security group",
        )

        # SageMaker workloads: Studio apps talk to each other (server to kernel gateway) and
        # to Studio's EFS (NFS 2049); distributed training needs all traffic within the group.
        self.workload_security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=self.vpc,
            description="SageMaker Studio apps, jobs and endpoints",
            allow_all_outbound=False,
        )
        self.workload_security_group.add_ingress_rule(
            self.workload_security_group, ec2.Port.all_tcp(), "Studio apps, NFS 2049 and distributed training within the group"
        )
        self.workload_security_group.add_egress_rule(
            self.workload_security_group, ec2.Port.all_tcp(), "Studio apps, NFS 2049 and distributed training within the group"
        )
        # HTTPS out: to the interface endpoints and to S3 through the gateway endpoint.
        self.workload_security_group.add_egress_rule(
            self.endpoint_security_group, ec2.Port.tcp(443), "HTTPS to the VPC's interface endpoints"
        )
        self.endpoint_security_group.add_ingress_rule(
            self.workload_security_group, ec2.Port.tcp(443), "HTTPS from SageMaker workloads"
        )
        self.workload_security_group.add_egress_rule(
            ec2.Peer.prefix_list(self._s3_prefix_list_id()), ec2.Port.tcp(443), "HTTPS to S3 through the gateway endpoint"
        )
        if egress:
            # Only when internet: egress is configured (pip, public model hubs through NAT).
            self.workload_security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the internet through NAT (internet: egress)"
            )

        endpoint_subnets = self.subnet_selection
        if endpoint_az_count is not None:
            private = self.vpc.select_subnets(subnet_type=private_type).subnets
            endpoint_subnets = ec2.SubnetSelection(subnets=private[:endpoint_az_count])
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name in interface_endpoints:
            spec = INTERFACE_ENDPOINTS[name]
            construct_name = "".join(part.capitalize() for part in name.split("_")) + "Endpoint"
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                construct_name,
                service=ec2.InterfaceVpcEndpointAwsService(spec.service, spec.prefix),
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                subnets=endpoint_subnets,
                open=False,
            )
            self.interface_endpoints[name].add_to_policy(
                iam.PolicyStatement(
                    sid="PlatformAccountsOnly",
                    principals=[iam.AnyPrincipal()],
                    actions=["*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:PrincipalAccount": accounts}},
                )
            )

    def _s3_prefix_list_id(self) -> str:
        """The region's S3 managed prefix list, read at deploy time (its ID differs per region)."""
        name = f"com.amazonaws.{Aws.REGION}.s3"
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [name]}]},
            physical_resource_id=cr.PhysicalResourceId.of(name),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "S3PrefixList",
            on_create=call,
            on_update=call,
            # DescribeManagedPrefixLists supports no resource-level permissions.
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ec2:DescribeManagedPrefixLists"], resources=["*"])]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self, "S3PrefixListLogs", encryption_key=self._logs_key, retention=logs.RetentionDays.ONE_YEAR,
                removal_policy=RemovalPolicy.RETAIN,
            ),
        )
        suppress(
            lookup, "AwsSolutions-IAM5", "ec2:DescribeManagedPrefixLists supports no resource-level permissions (read-only)",
            applies_to=["Resource::*"], children=True,
        )
        # CDK's one Lambda behind every AwsCustomResource of the stack (a fixed construct ID).
        provider = Stack.of(self).node.find_child(AWS_CUSTOM_RESOURCE_PROVIDER)
        suppress(
            provider,
            "AwsSolutions-IAM4",
            "CDK's AwsCustomResource provider writes its own logs with AWSLambdaBasicExecutionRole (logs only); "
            "it runs once per deploy to read the S3 prefix list",
            applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            children=True,
        )
        for rule, reason in (
            ("NIST.800.53.R5-LambdaInsideVPC", "It calls the EC2 API, which the VPC without internet reaches only through an "
             "ec2 endpoint the platform does not need otherwise; it handles no data"),
            ("NIST.800.53.R5-LambdaDLQ", "Invoked synchronously by CloudFormation, which reports a failure as a failed deploy"),
            ("NIST.800.53.R5-LambdaConcurrency", "Runs once per deploy of this stack; a concurrency reservation would only "
             "take capacity from the account"),
        ):
            suppress(provider, rule, reason, children=True)
        return lookup.get_response_field("PrefixLists.0.PrefixListId")

    @property
    def private_subnet_ids(self) -> list[str]:
        return self.vpc.select_subnets(subnet_type=self.subnet_selection.subnet_type).subnet_ids


def s3_endpoint_statements(accounts: Sequence[str]) -> list[iam.PolicyStatement]:
    """The S3 gateway endpoint's policy: the platform's buckets and the AWS-owned ones it needs."""
    return [
        iam.PolicyStatement(
            sid="PlatformBuckets",
            principals=[iam.AnyPrincipal()],
            actions=["s3:*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:ResourceAccount": list(accounts)}},
        ),
        iam.PolicyStatement(
            sid="AwsOwnedReadOnlyBuckets",
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject"],
            resources=[
                f"arn:{Aws.PARTITION}:s3:::prod-{Aws.REGION}-starport-layer-bucket/*",
                f"arn:{Aws.PARTITION}:s3:::jumpstart-cache-prod-{Aws.REGION}/*",
            ],
        ),
    ]
