"""Tier 2: shared and reused assets (owned by ML engineers and MLOps)."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from mlops_kit.config import KitConfig
from mlops_kit.stacks.backbone import BackboneStack


class SharedAssetsStack(Stack):
    """Studio, Feature Store, Model Registry, experiment tracking and shared buckets."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, backbone: BackboneStack, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.add_dependency(backbone)
