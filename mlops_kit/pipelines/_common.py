"""Pieces both templates build with the SDK: network, caching and request-only steps.

Import this module only inside :func:`mlops_kit.pipelines._sdk.offline_session`; it
imports the SDK at module level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sagemaker.core.network import NetworkConfig
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow import CacheConfig, Step, StepTypeEnum


def cache_config(expire_after: str) -> CacheConfig:
    return CacheConfig(enable_caching=True, expire_after=expire_after)


def processing_network(
    subnets: Sequence[str], security_groups: Sequence[str], isolate: bool
) -> NetworkConfig:
    """VPC mode when subnets are given; isolation and encrypted traffic either way."""
    return NetworkConfig(
        enable_network_isolation=isolate,
        security_group_ids=list(security_groups) or None,
        subnets=list(subnets) or None,
        encrypt_inter_container_traffic=True,
    )


def vpc_config(subnets: Sequence[str], security_groups: Sequence[str]) -> dict[str, list[str]] | None:
    if not subnets:
        return None
    return {"SecurityGroupIds": list(security_groups), "Subnets": list(subnets)}


class RequestStep(Step):  # type: ignore[misc]
    """A step whose arguments are a SageMaker API request written out in full.

    The SDK's ``ModelStep`` only takes arguments from ``ModelBuilder``, which uploads
    code and guesses a serving stack while it builds. The model steps here need neither:
    their ``CreateModel`` and ``CreateModelPackage`` requests are plain data.
    """

    def __init__(self, name: str, step_type: Any, request: Mapping[str, Any], shape_name: str) -> None:
        super().__init__(name=name, step_type=step_type)
        self._request = dict(request)
        self._properties = Properties(step_name=name, step=self, shape_name=shape_name)

    @property
    def arguments(self) -> dict[str, Any]:
        return self._request

    @property
    def properties(self) -> Properties:
        return self._properties


def register_model_step(name: str, request: Mapping[str, Any]) -> RequestStep:
    """A ``RegisterModel`` step: ``CreateModelPackage`` into a model package group."""
    return RequestStep(name, StepTypeEnum.REGISTER_MODEL, request, "DescribeModelPackageOutput")


def create_model_step(name: str, request: Mapping[str, Any]) -> RequestStep:
    """A ``Model`` step: ``CreateModel``, whose ``ModelName`` later steps can read."""
    return RequestStep(name, StepTypeEnum.CREATE_MODEL, request, "DescribeModelOutput")
