"""The kit's own cdk-nag pack for SageMaker, one rule per module (as cdk-nag lays out its own)."""

from mlops_kit.rules.pack import PACK_NAME, RULES, KitSageMakerChecks

__all__ = ["PACK_NAME", "RULES", "KitSageMakerChecks"]
