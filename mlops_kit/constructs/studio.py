"""SageMaker Studio: a VPC-only domain, its user profiles, lifecycle scripts and custom image."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

from aws_cdk import CfnTag, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_kit.config.shared import CustomImageConfig, LifecycleConfig
from mlops_kit.errors import KitError

SHARED_NOTEBOOKS_PREFIX = "studio/shared-notebooks"
MAX_NAME = 63


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _physical(prefix: str, name: str, what: str) -> str:
    full = f"{prefix}-{name}"
    if len(full) > MAX_NAME:
        raise KitError(f"{what} {name!r}: the name {full!r} is longer than SageMaker's {MAX_NAME} characters; shorten it or the prefix")
    return full


class Studio(Construct):
    """A SageMaker Studio domain with the kit's secure defaults.

    Defaults: IAM authentication, ``VpcOnly`` network access on ``vpc_subnets`` with
    ``security_group``, storage encrypted with ``encryption_key``, ``execution_role`` for
    users and spaces with the user profile name recorded as ``sts:SourceIdentity``;
    native idle shutdown of JupyterLab and Code Editor apps after ``idle_timeout_minutes``
    (60; ``None`` turns it off); Studio apps limited to ``instance_types`` (the first is the
    default) by an IAM deny on the execution role, per profile too; notebook sharing off
    unless ``sharing_bucket`` is given (then encrypted with the key). The domain is
    retained on stack deletion, and with it the home EFS volume (SageMaker's own default).
    Its tags are fixed at creation (``tags``): tag changes would replace the domain.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        encryption_key: kms.IKey,
        execution_role: iam.IRole,
        instance_types: Sequence[str] = ("ml.t3.medium",),
        idle_timeout_minutes: int | None = 60,
        max_idle_timeout_minutes: int = 480,
        lifecycle_configs: Sequence[LifecycleConfig] = (),
        custom_image: CustomImageConfig | None = None,
        sharing_bucket: s3.IBucket | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not instance_types:
            raise KitError("Studio needs at least one instance type in instance_types; the first is the default")
        if idle_timeout_minutes is not None and not 60 <= idle_timeout_minutes <= max_idle_timeout_minutes:
            raise KitError(
                f"idle_timeout_minutes {idle_timeout_minutes} must be from 60 to max_idle_timeout_minutes ({max_idle_timeout_minutes})"
            )
        self.prefix = prefix
        self.instance_types = tuple(instance_types)
        self.execution_role = execution_role
        self.encryption_key = encryption_key
        self.security_group = security_group
        self.sharing_bucket = sharing_bucket
        self._tags = {"kit:platform": prefix, **(tags or {})}

        # Lifecycle configurations (base64 as the API wants it; content is create-only).
        self.lifecycle_configs: dict[str, sagemaker.CfnStudioLifecycleConfig] = {}
        arns: dict[str, list[str]] = {"JupyterLab": [], "CodeEditor": []}
        defaults: dict[str, str] = {}
        for config in lifecycle_configs:
            resource = sagemaker.CfnStudioLifecycleConfig(
                self,
                f"LifecycleConfig{_pascal(config.name)}",
                studio_lifecycle_config_name=_physical(prefix, config.name, "lifecycle configuration"),
                studio_lifecycle_config_app_type=config.app_type,
                studio_lifecycle_config_content=base64.b64encode(config.script.encode("utf-8")).decode("ascii"),
            )
            self.lifecycle_configs[config.name] = resource
            arns[config.app_type].append(resource.attr_studio_lifecycle_config_arn)
            if config.default:
                defaults[config.app_type] = resource.attr_studio_lifecycle_config_arn

        # Optional custom image: immutable, scanned, encrypted ECR repository.
        self.image_repository: ecr.Repository | None = None
        self.image: sagemaker.CfnImage | None = None
        self.app_image_config: sagemaker.CfnAppImageConfig | None = None
        self.image_version: sagemaker.CfnImageVersion | None = None
        custom_images: dict[str, list[sagemaker.CfnDomain.CustomImageProperty]] = {"JupyterLab": [], "CodeEditor": []}
        if custom_image is not None:
            custom_images[custom_image.app_type] = self._add_custom_image(custom_image)

        sharing = sagemaker.CfnDomain.SharingSettingsProperty(notebook_output_option="Disabled")
        if sharing_bucket is not None:
            sharing = sagemaker.CfnDomain.SharingSettingsProperty(
                notebook_output_option="Allowed",
                s3_output_path=sharing_bucket.s3_url_for_object(SHARED_NOTEBOOKS_PREFIX),
                s3_kms_key_id=encryption_key.key_arn,
            )
            sharing_bucket.grant_read_write(execution_role, f"{SHARED_NOTEBOOKS_PREFIX}/*")

        lifecycle = self._idle_settings(idle_timeout_minutes, max_idle_timeout_minutes)
        jupyter = sagemaker.CfnDomain.JupyterLabAppSettingsProperty(
            app_lifecycle_management=lifecycle,
            default_resource_spec=sagemaker.CfnDomain.ResourceSpecProperty(
                instance_type=self.instance_types[0], lifecycle_config_arn=defaults.get("JupyterLab")
            ),
            lifecycle_config_arns=arns["JupyterLab"] or None,
            custom_images=custom_images["JupyterLab"] or None,
        )
        code_editor = sagemaker.CfnDomain.CodeEditorAppSettingsProperty(
            app_lifecycle_management=lifecycle,
            default_resource_spec=sagemaker.CfnDomain.ResourceSpecProperty(
                instance_type=self.instance_types[0], lifecycle_config_arn=defaults.get("CodeEditor")
            ),
            lifecycle_config_arns=arns["CodeEditor"] or None,
            custom_images=custom_images["CodeEditor"] or None,
        )
        self.domain_name = _physical(prefix, "studio", "Studio domain")
        self.domain = sagemaker.CfnDomain(
            self,
            "Resource",
            domain_name=self.domain_name,
            auth_mode="IAM",
            app_network_access_type="VpcOnly",
            vpc_id=vpc.vpc_id,
            subnet_ids=vpc.select_subnets(
                subnet_type=vpc_subnets.subnet_type, subnet_group_name=vpc_subnets.subnet_group_name, subnets=vpc_subnets.subnets
            ).subnet_ids,
            kms_key_id=encryption_key.key_arn,
            domain_settings=sagemaker.CfnDomain.DomainSettingsProperty(
                security_group_ids=[security_group.security_group_id],
                execution_role_identity_config="USER_PROFILE_NAME",
            ),
            default_user_settings=sagemaker.CfnDomain.UserSettingsProperty(
                execution_role=execution_role.role_arn,
                security_groups=[security_group.security_group_id],
                studio_web_portal="ENABLED",
                default_landing_uri="studio::",
                sharing_settings=sharing,
                jupyter_lab_app_settings=jupyter,
                code_editor_app_settings=code_editor,
            ),
            default_space_settings=sagemaker.CfnDomain.DefaultSpaceSettingsProperty(
                execution_role=execution_role.role_arn,
                security_groups=[security_group.security_group_id],
                jupyter_lab_app_settings=jupyter,
            ),
            tags=self._cfn_tags({"kit:resource": "studio-domain"}),
        )
        self.domain.apply_removal_policy(RemovalPolicy.RETAIN)
        if self.image_version is not None:
            self.domain.add_resource_dependency(self.image_version)
        if self.app_image_config is not None:
            self.domain.add_resource_dependency(self.app_image_config)
        self.domain_id = self.domain.attr_domain_id
        self.domain_arn = self.domain.attr_domain_arn

        stack = Stack.of(self)
        self._apps_arn = stack.format_arn(service="sagemaker", resource="app", resource_name=f"{self.domain_id}/*")
        self._spaces_arn = stack.format_arn(service="sagemaker", resource="space", resource_name=f"{self.domain_id}/*")
        # Apps may only use the listed instance types ("system" is Studio's own server app).
        self.instance_type_policy = iam.Policy(
            self,
            "InstanceTypeLimits",
            statements=[
                iam.PolicyStatement(
                    sid="StudioAppsOnlyListedInstanceTypes",
                    effect=iam.Effect.DENY,
                    actions=["sagemaker:CreateApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace"],
                    resources=[self._apps_arn, self._spaces_arn],
                    conditions={"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": [*self.instance_types, "system"]}},
                )
            ],
            roles=[execution_role],
        )
        self.user_profiles: dict[str, sagemaker.CfnUserProfile] = {}
        self._persona_policies: dict[str, iam.Policy] = {}

    @staticmethod
    def _idle_settings(idle: int | None, maximum: int) -> sagemaker.CfnDomain.AppLifecycleManagementProperty:
        if idle is None:
            return sagemaker.CfnDomain.AppLifecycleManagementProperty(
                idle_settings=sagemaker.CfnDomain.IdleSettingsProperty(lifecycle_management="DISABLED")
            )
        return sagemaker.CfnDomain.AppLifecycleManagementProperty(
            idle_settings=sagemaker.CfnDomain.IdleSettingsProperty(
                lifecycle_management="ENABLED",
                idle_timeout_in_minutes=idle,
                min_idle_timeout_in_minutes=60,
                max_idle_timeout_in_minutes=maximum,
            )
        )

    def _cfn_tags(self, extra: Mapping[str, str]) -> list[CfnTag]:
        return [CfnTag(key=k, value=v) for k, v in sorted({**self._tags, **extra}.items())]

    def _add_custom_image(self, spec: CustomImageConfig) -> list[sagemaker.CfnDomain.CustomImageProperty]:
        self.image_repository = ecr.Repository(
            self,
            "ImageRepository",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=self.encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        image_name = _physical(self.prefix, spec.name, "custom image")
        self.image = sagemaker.CfnImage(
            self,
            "Image",
            image_name=image_name,
            image_display_name=spec.display_name,
            image_description=f"{self.prefix}: custom {spec.app_type} image",
            image_role_arn=self.execution_role.role_arn,
        )
        config_name = _physical(self.prefix, f"{spec.name}-config", "app image config")
        container = sagemaker.CfnAppImageConfig.ContainerConfigProperty()
        self.app_image_config = sagemaker.CfnAppImageConfig(
            self,
            "AppImageConfig",
            app_image_config_name=config_name,
            jupyter_lab_app_image_config=(
                sagemaker.CfnAppImageConfig.JupyterLabAppImageConfigProperty(container_config=container) if spec.app_type == "JupyterLab" else None
            ),
            code_editor_app_image_config=(
                sagemaker.CfnAppImageConfig.CodeEditorAppImageConfigProperty(container_config=container) if spec.app_type == "CodeEditor" else None
            ),
        )
        if spec.tag is None:
            # Nothing pushed yet: the domain can offer the image only once a version exists.
            return []
        self.image_version = sagemaker.CfnImageVersion(
            self, "ImageVersion", image_name=image_name, base_image=self.image_repository.repository_uri_for_tag(spec.tag)
        )
        self.image_version.add_resource_dependency(self.image)
        return [sagemaker.CfnDomain.CustomImageProperty(app_image_config_name=config_name, image_name=image_name)]

    def add_user_profile(
        self,
        name: str,
        *,
        persona: str,
        persona_role: iam.IRole | None = None,
        instance_types: Sequence[str] | None = None,
    ) -> sagemaker.CfnUserProfile:
        """A user profile ``<prefix>-<name>`` working with the domain's execution role.

        ``persona_role`` (the persona's IAM role) may open exactly this profile, and only in
        a session whose ``sts:SourceIdentity`` is ``name`` (one profile per person);
        ``instance_types`` narrows the domain's list for this profile's private apps.
        """
        if name in self.user_profiles:
            raise KitError(f"Studio user profile {name!r} is added twice; names must be unique")
        allowed = tuple(instance_types or self.instance_types)
        outside = [t for t in allowed if t not in self.instance_types]
        if outside:
            raise KitError(f"user profile {name!r}: instance types {', '.join(outside)} are not in the domain's list ({', '.join(self.instance_types)})")
        construct_name = _pascal(name)
        profile = sagemaker.CfnUserProfile(
            self,
            f"UserProfile{construct_name}",
            domain_id=self.domain_id,
            user_profile_name=_physical(self.prefix, name, "user profile"),
            user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
                execution_role=self.execution_role.role_arn,
                security_groups=[self.security_group.security_group_id],
                jupyter_lab_app_settings=sagemaker.CfnUserProfile.JupyterLabAppSettingsProperty(
                    default_resource_spec=sagemaker.CfnUserProfile.ResourceSpecProperty(instance_type=allowed[0])
                ),
            ),
            tags=self._cfn_tags({"kit:persona": persona}),
        )
        self.user_profiles[name] = profile
        if allowed != self.instance_types:
            self.instance_type_policy.add_statements(
                iam.PolicyStatement(
                    sid=f"Profile{construct_name}InstanceTypes",
                    effect=iam.Effect.DENY,
                    actions=["sagemaker:CreateApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace"],
                    resources=[self._apps_arn, self._spaces_arn],
                    conditions={
                        "ArnEquals": {"sagemaker:OwnerUserProfileArn": profile.attr_user_profile_arn},
                        "ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": [*allowed, "system"]},
                    },
                )
            )
        if persona_role is not None:
            # One persona role serves many people: the profile opens only for the session
            # whose source identity is this person. sts:SourceIdentity is set once, at
            # federation, and no later AssumeRole in the chain can change it
            # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
            # A condition rather than a profile tag: tags on a profile replace it.
            self._persona_policy(persona, persona_role).add_statements(
                iam.PolicyStatement(
                    sid=f"Open{construct_name}",
                    actions=["sagemaker:CreatePresignedDomainUrl"],
                    resources=[profile.attr_user_profile_arn],
                    conditions={"StringEquals": {"aws:SourceIdentity": name}},
                ),
                iam.PolicyStatement(
                    sid=f"See{construct_name}", actions=["sagemaker:DescribeUserProfile"], resources=[profile.attr_user_profile_arn]
                ),
            )
        return profile

    def _persona_policy(self, persona: str, role: iam.IRole) -> iam.Policy:
        if persona not in self._persona_policies:
            self._persona_policies[persona] = iam.Policy(
                self, f"{_pascal(persona)}ProfileAccess", roles=[role]
            )
        return self._persona_policies[persona]
