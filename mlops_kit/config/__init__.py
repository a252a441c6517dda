"""Typed, validated configuration. Every error names the file, the field and the line."""

from __future__ import annotations

from pathlib import Path

from mlops_kit.config.backbone import INTERFACE_ENDPOINTS, PERSONAS
from mlops_kit.config.loader import read_yaml
from mlops_kit.config.model import KitConfig
from mlops_kit.config.validation import validate_document
from mlops_kit.errors import ConfigError

DEFAULT_CONFIG = Path("kit.yaml")

__all__ = ["DEFAULT_CONFIG", "INTERFACE_ENDPOINTS", "PERSONAS", "ConfigError", "KitConfig", "load_config"]


def load_config(path: Path = DEFAULT_CONFIG) -> KitConfig:
    """Read and validate ``kit.yaml``; raise ConfigError naming file, field and line."""
    document = read_yaml(path)
    return validate_document(KitConfig, document)
