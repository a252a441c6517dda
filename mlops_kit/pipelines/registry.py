"""The templates a project can choose (the CLI's ``--template`` choices)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mlops_kit.pipelines.batch_inference import build_batch_inference_definition
from mlops_kit.pipelines.tabular_training import build_tabular_training_definition


@dataclass(frozen=True)
class PipelineTemplate:
    """A named template: what it does, its builder, and the step scripts it ships."""

    name: str
    description: str
    build: Callable[..., str]
    # Keys of the ``code_uris`` the builder needs; the scripts are in pipelines/steps/.
    code_keys: tuple[str, ...] = ()


TEMPLATES: Mapping[str, PipelineTemplate] = MappingProxyType(
    {
        "tabular-training": PipelineTemplate(
            name="tabular-training",
            description=(
                "Binary classification on a CSV: preprocess, train (scikit-learn, managed spot), "
                "evaluate, and register the model for manual approval when a test metric clears "
                "its threshold."
            ),
            build=build_tabular_training_definition,
            code_keys=("preprocess", "train", "evaluate"),
        ),
        "batch-inference": PipelineTemplate(
            name="batch-inference",
            description=(
                "Score a dataset in S3 with an approved model package (batch transform), "
                "writing KMS-encrypted predictions next to the project's data."
            ),
            build=build_batch_inference_definition,
        ),
    }
)
