"""Which delivery environment a construct is synthesized for.

``PlatformStage`` (``mlops_kit.stacks.delivery``) exposes its ``DeliveryEnvironment`` as
``environment``; a plain App (delivery off) has none.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

from mlops_kit.config.delivery import DeliveryConfig, DeliveryEnvironment


def environment_of(scope: IConstruct) -> DeliveryEnvironment | None:
    """The delivery environment of the stage holding ``scope``, or None outside a delivery stage."""
    environment = getattr(cdk.Stage.of(scope), "environment", None)
    return environment if isinstance(environment, DeliveryEnvironment) else None


def in_training_environment(scope: IConstruct, delivery: DeliveryConfig) -> bool:
    """Whether ``scope`` is synthesized for the first delivery environment, where models are trained."""
    current, training = environment_of(scope), delivery.training_environment
    return current is not None and training is not None and current.name == training.name
