"""The whole platform's configuration: ``kit.yaml`` plus one file per project."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from mlops_kit.config.backbone import (
    KNOWN_ZONES,
    AuditConfig,
    EnvironmentConfig,
    NetworkConfig,
    PersonasConfig,
    endpoints_for,
    zones_for,
)
from mlops_kit.config.common import KitName, Section, TagKey, TagValue
from mlops_kit.config.delivery import DeliveryConfig
from mlops_kit.config.project import BudgetConfig, ProjectConfig
from mlops_kit.config.shared import SharedAssetsConfig
from mlops_kit.config.validation import FieldProblem

MAX_AGNOSTIC_AZS = 2


class KitConfig(Section):
    """``kit.yaml``: reviewed by Cloud & Security and DevOps, deployed by DevOps."""

    prefix: KitName = Field(default="mlops", description="Short name that prefixes the platform's named resources.")
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    personas: PersonasConfig = Field(default_factory=PersonasConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    shared_assets: SharedAssetsConfig = Field(default_factory=SharedAssetsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    budget: BudgetConfig = Field(
        default_factory=BudgetConfig,
        description="The platform's own monthly budget: spend tagged kit:tier 1 or 2 (Backbone, SharedAssets), not the projects'.",
    )
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, description="Tags added to every resource (at most 40).")
    # Filled from projects/<name>.yaml by load_config, never from kit.yaml itself.
    projects: SkipJsonSchema[tuple[ProjectConfig, ...]] = Field(default=(), exclude=True)

    def enabled_features(self) -> set[str]:
        """The features whose interface endpoints the VPC needs (``INTERFACE_ENDPOINTS[...].needed_by``)."""
        shared = self.shared_assets
        flags = {"studio": shared.studio.enabled, "feature_store": shared.feature_store.enabled, "experiments": shared.experiments.enabled}
        return {"platform", *(name for name, on in flags.items() if on)}

    def interface_endpoint_names(self) -> list[str]:
        """The interface endpoints the Backbone creates: what the enabled features need, plus add, minus remove."""
        changes = self.network.interface_endpoints
        return endpoints_for(self.enabled_features(), add=changes.add, remove=changes.remove)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_projects(cls, data: Any) -> Any:
        if isinstance(data, dict) and "projects" in data:
            raise FieldProblem(
                ("projects",),
                "unknown key 'projects': each project lives in its own file projects/<name>.yaml, "
                "written by `mlops-kit new-project`"
            )
        return data

    @model_validator(mode="after")
    def _agnostic_azs(self) -> Self:
        # With delivery on, every stage has its own account and region, so AZs are known.
        if self.environment.is_agnostic and not self.delivery.enabled and self.network.az_count > MAX_AGNOSTIC_AZS:
            raise FieldProblem(
                ("network", "az_count"),
                f"got {self.network.az_count}: more than {MAX_AGNOSTIC_AZS} availability zones needs "
                "environment.account and environment.region (an environment-agnostic stack sees only two)",
            )
        for region in self.pinned_regions():
            if zones_for(region, self.network) is None:
                known = KNOWN_ZONES.get(region, "")
                raise FieldProblem(
                    ("network", "availability_zones"),
                    f"region {region} needs {self.network.az_count} zone names and the kit knows "
                    f"{len(known)} ({', '.join(region + letter for letter in known) or 'none'}); list "
                    f"{self.network.az_count} zones of {region} as your account sees them (aws ec2 describe-availability-zones)",
                )
        if len(self.tags) > 40:
            raise FieldProblem(("tags",), f"got {len(self.tags)} tags: at most 40, the kit adds its own cost-allocation tags on top")
        return self

    def pinned_regions(self) -> list[str]:
        """The regions the platform's stacks are pinned to (none for an environment-agnostic synth)."""
        if self.delivery.enabled:
            return sorted({environment.region for environment in self.delivery.environments})
        return [self.environment.region] if self.environment.region else []
