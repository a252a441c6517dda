"""SageMaker Pipelines templates, built offline with the sagemaker SDK v3.

Importing this package is cheap: the SDK (seconds to import) loads only when a
definition is built. Each builder returns the pipeline definition JSON as a string,
the same for the same arguments, with AWS CDK tokens passed through verbatim.
"""

from __future__ import annotations

from mlops_kit.pipelines.batch_inference import build_batch_inference_definition
from mlops_kit.pipelines.errors import PipelineTemplateError
from mlops_kit.pipelines.images import DEFAULT_SKLEARN_VERSION, sklearn_image_uri_by_region
from mlops_kit.pipelines.registry import TEMPLATES, PipelineTemplate
from mlops_kit.pipelines.tabular_training import build_tabular_training_definition

__all__ = [
    "DEFAULT_SKLEARN_VERSION",
    "TEMPLATES",
    "PipelineTemplate",
    "PipelineTemplateError",
    "build_batch_inference_definition",
    "build_tabular_training_definition",
    "sklearn_image_uri_by_region",
]
