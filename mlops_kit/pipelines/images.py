"""Container image URIs per region (scikit-learn framework, Model Monitor analyzer), without AWS.

The default stacks are environment-agnostic, so the region is only known at deploy
time: the stacks turn these tables into CloudFormation Mappings keyed by region.

The SDK derives each URI from its bundled ``image_uri_config`` and botocore's endpoints,
which costs about 0.6 s for scikit-learn and 5 s for Model Monitor per process. So the tables
of the versions the kit uses ship as data (``image_uris.json``), generated from the installed
SDK by ``make image-tables`` (:func:`write_tables`) and keyed by the ``sagemaker-core`` version that
wrote them; another SDK release, or another scikit-learn version, falls back to computing them
from the SDK (once per process). ``tests/pipelines/test_image_tables.py`` checks the data against
the SDK.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

DEFAULT_SKLEARN_VERSION = "1.2-1"
# A CPU type: the scikit-learn images are CPU-only, and the URI does not depend on size.
_ANY_CPU_INSTANCE = "ml.m5.large"
SHIPPED_TABLES = Path(__file__).with_name("image_uris.json")
_SDK_DISTRIBUTION = "sagemaker-core"


def sklearn_image_uri_by_region(framework_version: str = DEFAULT_SKLEARN_VERSION) -> dict[str, str]:
    """Map every region the installed SDK knows to its scikit-learn image URI.

    The same image serves processing, training and inference for these versions
    (``sagemaker-scikit-learn:<version>-cpu-py3``).
    """
    shipped = _shipped().get("sklearn", {}).get(framework_version)
    return dict(shipped) if shipped is not None else dict(_sdk_sklearn(framework_version))


def model_monitor_image_uri_by_region() -> dict[str, str]:
    """The Model Monitor analyzer image per region."""
    shipped = _shipped().get("model-monitor")
    return dict(shipped) if shipped is not None else dict(_sdk_model_monitor())


@functools.cache
def _shipped() -> dict[str, Any]:
    """The generated tables, if the installed SDK is the release that wrote them; else nothing."""
    try:
        data: dict[str, Any] = json.loads(SHIPPED_TABLES.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if data.get(_SDK_DISTRIBUTION) == version(_SDK_DISTRIBUTION) else {}


@contextmanager
def _sdk_image_uris() -> Iterator[Any]:
    """The SDK's ``image_uris`` module, offline, with botocore's endpoint resolver read once.

    The SDK re-reads botocore's endpoints.json (about 0.15 s) for every region it resolves.
    """
    from mlops_kit.pipelines._sdk import offline_session

    with offline_session():
        from sagemaker.core import image_uris

        resolver = image_uris.utils._botocore_resolver()
        original: Callable[[], Any] = image_uris.utils._botocore_resolver
        image_uris.utils._botocore_resolver = lambda: resolver
        try:
            yield image_uris
        finally:
            image_uris.utils._botocore_resolver = original


@functools.cache
def _sdk_sklearn(framework_version: str) -> dict[str, str]:
    with _sdk_image_uris() as image_uris:
        scope = image_uris.config_for_framework("sklearn")["inference"]
        version_config = scope["versions"].get(framework_version)
        if version_config is None:
            from mlops_kit.pipelines.errors import PipelineTemplateError

            known = ", ".join(sorted(scope["versions"]))
            raise PipelineTemplateError("framework_version", framework_version, f"known versions: {known}")
        py_version = version_config["py_versions"][0]
        return {
            region: image_uris.retrieve(
                framework="sklearn",
                region=region,
                version=framework_version,
                py_version=py_version,
                instance_type=_ANY_CPU_INSTANCE,
                image_scope="inference",
            )
            for region in sorted(version_config["registries"])
        }


@functools.cache
def _sdk_model_monitor() -> dict[str, str]:
    with _sdk_image_uris() as image_uris:
        config = image_uris.config_for_framework("model-monitor")
        registries = config["versions"][next(iter(config["versions"]))]["registries"]
        return {region: image_uris.retrieve("model-monitor", region=region) for region in sorted(registries)}


def sdk_tables() -> dict[str, Any]:
    """The tables as the installed SDK computes them: what ``image_uris.json`` must hold."""
    return {
        _SDK_DISTRIBUTION: version(_SDK_DISTRIBUTION),
        "sklearn": {DEFAULT_SKLEARN_VERSION: _sdk_sklearn(DEFAULT_SKLEARN_VERSION)},
        "model-monitor": _sdk_model_monitor(),
    }


def render_tables() -> str:
    return json.dumps(sdk_tables(), indent=2, sort_keys=True) + "\n"


def write_tables() -> None:
    """Regenerate ``image_uris.json`` from the installed SDK (after an SDK upgrade)."""
    SHIPPED_TABLES.write_text(render_tables(), encoding="utf-8")
    sys.stdout.write(f"wrote {SHIPPED_TABLES}\n")
