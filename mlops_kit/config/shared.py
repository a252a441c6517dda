"""Tier 2 settings: the shared assets every project reuses."""

from __future__ import annotations

from mlops_kit.config.common import Section


class SharedAssetsConfig(Section):
    """Studio, Feature Store, Model Registry, experiment tracking and shared buckets."""
