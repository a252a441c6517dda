"""Container image URIs for the SageMaker scikit-learn framework, computed offline.

The default stacks are environment-agnostic, so the region is only known at deploy
time: the stack turns this table into a CloudFormation Mapping keyed by region.
"""

from __future__ import annotations

import functools
from typing import Any

DEFAULT_SKLEARN_VERSION = "1.2-1"
# A CPU type: the scikit-learn images are CPU-only, and the URI does not depend on size.
_ANY_CPU_INSTANCE = "ml.m5.large"


def sklearn_image_uri_by_region(framework_version: str = DEFAULT_SKLEARN_VERSION) -> dict[str, str]:
    """Map every region the installed SDK knows to its scikit-learn image URI.

    The same image serves processing, training and inference for these versions
    (``sagemaker-scikit-learn:<version>-cpu-py3``); the table is read from the SDK's
    bundled ``image_uri_config``, with no AWS call.
    """
    return dict(_image_uris(framework_version))


@functools.cache
def _image_uris(framework_version: str) -> dict[str, str]:
    from mlops_kit.pipelines._sdk import offline_session

    with offline_session():
        from sagemaker.core import image_uris

        config = image_uris.config_for_framework("sklearn")
        scope = config["inference"]
        version_config = scope["versions"].get(framework_version)
        if version_config is None:
            from mlops_kit.pipelines.errors import PipelineTemplateError

            known = ", ".join(sorted(scope["versions"]))
            raise PipelineTemplateError("framework_version", framework_version, f"known versions: {known}")
        py_version = version_config["py_versions"][0]
        # The SDK re-reads botocore's endpoints.json (about 0.15 s) for every region.
        resolver = image_uris.utils._botocore_resolver()
        original = image_uris.utils._botocore_resolver
        image_uris.utils._botocore_resolver = lambda: resolver
        try:
            return _retrieve_all(
                image_uris, framework_version, py_version, sorted(version_config["registries"])
            )
        finally:
            image_uris.utils._botocore_resolver = original


def _retrieve_all(
    image_uris: Any, framework_version: str, py_version: str, regions: list[str]
) -> dict[str, str]:
    return {
        region: image_uris.retrieve(
            framework="sklearn",
            region=region,
            version=framework_version,
            py_version=py_version,
            instance_type=_ANY_CPU_INSTANCE,
            image_scope="inference",
        )
        for region in regions
    }
