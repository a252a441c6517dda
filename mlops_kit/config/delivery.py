"""Tier 1 delivery settings: the kit's own CI/CD pipeline and its environments."""

from __future__ import annotations

from mlops_kit.config.common import Section


class DeliveryConfig(Section):
    """The self-mutating pipeline that deploys the platform; off by default."""

    enabled: bool = False
