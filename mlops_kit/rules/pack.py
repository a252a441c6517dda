"""The kit's cdk-nag pack for SageMaker: what AwsSolutions never looks at (domains, pipelines, flows...).

Applied as an aspect next to AwsSolutions (``mlops_kit.nag.apply_checks``) on the App and on
every delivery Stage. Rule IDs read ``KitSageMaker-<Rule>``; a finding ID names the missing
setting (``Steps/Train/VolumeKmsKeyId``), so a suppression can accept exactly one finding with
``applies_to``. Every rule is an error: an unsuppressed finding fails ``cdk synth``.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnResource
from cdk_nag import IApplyRule, NagPack
from constructs import IConstruct

from mlops_kit.rules import (
    domain,
    endpoint_config,
    feature_group,
    mlflow,
    model,
    model_package_group,
    monitoring,
    pipeline_definition,
    serverless_model,
    studio_settings,
)
from mlops_kit.rules._base import AppliedRule, Rule

PACK_NAME = "KitSageMaker"

RULES: tuple[Rule, ...] = (
    domain.RULE,
    studio_settings.RULE,
    model.RULE,
    endpoint_config.RULE,
    serverless_model.RULE,
    pipeline_definition.RULE,
    feature_group.RULE,
    model_package_group.RULE,
    mlflow.RULE,
    monitoring.RULE,
)


class KitSageMakerChecks(NagPack):
    """cdk-nag rules for SageMaker domains, models, endpoints, pipelines, feature groups, registries, MLflow and monitoring.

    Takes NagPack's options (``verbose``, ``reports``, ``log_ignores``...). Rules run only on
    the resource types they read, so the pack costs nothing on the rest of an app.
    """

    def __init__(self, *, verbose: bool = False, reports: bool = True) -> None:
        super().__init__(verbose=verbose, reports=reports)
        self._pack_name = PACK_NAME

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        kind = node.cfn_resource_type
        for rule in RULES:
            if kind in rule.resource_types:
                # jsii reads the interface's members as properties of the class; mypy's protocol
                # check wants settable attributes, which jsii never sets.
                self._apply_rule(cast(IApplyRule, AppliedRule(rule, node)))
