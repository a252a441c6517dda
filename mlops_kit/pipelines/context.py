"""The contract between a project stack and the ``pipeline.py`` of its seed code.

The project stack publishes one SSM parameter per environment,
``/<prefix>/projects/<name>/pipeline-context``: the template's name and every builder
argument that depends on where the pipeline runs (execution role, bucket, key, subnets,
security groups, image, model package group) or on the project file (target column,
metric, instance types). ``pipeline.py`` reads it in the account and region it builds for,
uploads the seed folder's step code to the project bucket under a content-addressed
prefix, and writes the definition the stack itself deploys, now pointing at that code.
The project's build pipeline then updates the SageMaker pipeline with it, first in the
training environment, then in each later one (``mlops_kit.constructs.project_build``).

Only the standard library is imported here: boto3 and the sagemaker SDK load when used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_kit.errors import KitError

CONTEXT_VERSION = 1
CODE_PREFIX = "pipeline-code"
PACKAGE_STEPS = Path(__file__).resolve().parent / "steps"
# The arguments ``pipeline.py`` supplies itself; every other builder argument is in the context.
SUPPLIED = frozenset({"code_uris"})


class PipelineContextError(KitError):
    """The context parameter or the seed folder cannot give a definition."""


def context_parameter_name(prefix: str, project: str) -> str:
    return f"/{prefix}/projects/{project}/pipeline-context"


def context_document(template: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """What the project stack publishes (values may still be CDK tokens at synth time)."""
    return {"version": CONTEXT_VERSION, "template": template, "arguments": dict(arguments)}


@dataclass(frozen=True)
class PipelineContext:
    template: str
    arguments: Mapping[str, Any]

    @property
    def code_keys(self) -> tuple[str, ...]:
        from mlops_kit.pipelines.registry import TEMPLATES

        return TEMPLATES[self.template].code_keys

    @property
    def bucket(self) -> str:
        return str(self.arguments["artifact_bucket"])

    @property
    def kms_key_arn(self) -> str:
        return str(self.arguments["kms_key_arn"])


def parse_context(text: str, source: str) -> PipelineContext:
    """Check what was published before building anything with it."""
    from mlops_kit.pipelines.registry import TEMPLATES

    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PipelineContextError(f"{source}: not JSON ({error.msg} at position {error.pos})") from None
    if not isinstance(document, dict) or document.get("version") != CONTEXT_VERSION:
        raise PipelineContextError(
            f"{source}: version: got {document.get('version') if isinstance(document, dict) else document!r}; "
            f"this kit reads version {CONTEXT_VERSION} (deploy the project stack with this kit's release)"
        )
    template = document.get("template")
    if template not in TEMPLATES:
        raise PipelineContextError(f"{source}: template: got {template!r}; allowed: {', '.join(TEMPLATES)}")
    arguments = document.get("arguments")
    if not isinstance(arguments, dict):
        raise PipelineContextError(f"{source}: arguments: got {type(arguments).__name__}; expected a mapping of builder arguments")
    for required in ("artifact_bucket", "kms_key_arn", "pipeline_name"):
        if not isinstance(arguments.get(required), str) or not arguments[required]:
            raise PipelineContextError(f"{source}: arguments.{required}: missing; the project stack publishes it")
    return PipelineContext(template=str(template), arguments=arguments)


def step_files(seed_folder: Path | None, keys: Sequence[str]) -> dict[str, Path]:
    """The project's own ``steps/<key>.py`` when its seed folder has it, else the template's copy."""
    found: dict[str, Path] = {}
    for key in keys:
        own = seed_folder / "steps" / f"{key}.py" if seed_folder else None
        found[key] = own if own is not None and own.is_file() else PACKAGE_STEPS / f"{key}.py"
    return found


def code_locations(context: PipelineContext, files: Mapping[str, Path]) -> dict[str, str]:
    """``s3://<bucket>/pipeline-code/<digest>/<key>.py``: same code, same place, so cached steps stay cached."""
    digest = hashlib.sha256()
    for key in sorted(files):
        digest.update(key.encode() + b"\0" + files[key].read_bytes() + b"\0")
    folder = f"{CODE_PREFIX}/{digest.hexdigest()[:16]}"
    return {key: f"s3://{context.bucket}/{folder}/{key}.py" for key in files}


def build_definition(context: PipelineContext, code_uris: Mapping[str, str]) -> str:
    from mlops_kit.pipelines.registry import TEMPLATES

    template = TEMPLATES[context.template]
    arguments = {name: value for name, value in context.arguments.items() if name not in SUPPLIED}
    if template.code_keys:
        arguments["code_uris"] = dict(code_uris)
    try:
        return template.build(**arguments)
    except TypeError as error:
        raise PipelineContextError(f"the context's arguments do not fit template {context.template!r}: {error}") from None


@dataclass(frozen=True)
class Rebuilt:
    """A definition written for one environment, and where its step code went."""

    context: PipelineContext
    definition: str
    code_uris: Mapping[str, str]


def rebuild(context: PipelineContext, seed_folder: Path | None, s3_client: Any | None) -> Rebuilt:
    """Build the definition with the seed's step code; upload that code (SSE-KMS) unless ``s3_client`` is None."""
    files = step_files(seed_folder, context.code_keys)
    uris = code_locations(context, files)
    definition = build_definition(context, uris)
    if s3_client is not None:
        for key, uri in uris.items():
            s3_client.put_object(
                Bucket=context.bucket, Key=uri.split("/", 3)[3], Body=files[key].read_bytes(),
                ServerSideEncryption="aws:kms", SSEKMSKeyId=context.kms_key_arn, ContentType="text/x-python",
            )
    return Rebuilt(context, definition, uris)


def read_parameter(ssm_client: Any, name: str) -> PipelineContext:
    response = ssm_client.get_parameter(Name=name)
    return parse_context(str(response["Parameter"]["Value"]), f"SSM parameter {name}")


def main(argv: Sequence[str] | None = None, *, seed_folder: Path) -> int:
    """``pipeline.py``'s command line. Exit 0 with the definition written, 2 on bad input, 1 when AWS refuses."""
    parser = argparse.ArgumentParser(
        prog="pipeline.py",
        description="Write this project's SageMaker pipeline definition for one environment, with the step code of this folder.",
    )
    parser.add_argument("--output", required=True, type=Path, help="where to write the definition JSON")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--parameter",
        default=os.environ.get("PIPELINE_CONTEXT_PARAMETER"),
        help="SSM parameter holding the project's pipeline context (default: $PIPELINE_CONTEXT_PARAMETER)",
    )
    source.add_argument("--context", type=Path, help="read the context from this JSON file instead of SSM")
    parser.add_argument(
        "--region",
        default=os.environ.get("TARGET_REGION") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        help="region of the parameter and bucket (default: $TARGET_REGION, then $AWS_REGION)",
    )
    parser.add_argument("--dry-run", action="store_true", help="write the definition without uploading the step code")
    options = parser.parse_args(argv)

    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if options.context is not None:
            try:
                text = options.context.read_text(encoding="utf-8")
            except OSError as error:
                raise PipelineContextError(f"--context: cannot read {options.context}: {error.strerror}") from None
            context = parse_context(text, str(options.context))
        elif options.parameter:
            import boto3

            context = read_parameter(boto3.client("ssm", region_name=options.region), options.parameter)
        else:
            raise PipelineContextError("--parameter: no context given; pass --parameter NAME, --context FILE, or set PIPELINE_CONTEXT_PARAMETER")
        s3_client = None
        if not options.dry_run:
            import boto3

            s3_client = boto3.client("s3", region_name=options.region)
        rebuilt = rebuild(context, seed_folder, s3_client)
        options.output.write_text(rebuilt.definition, encoding="utf-8")
    except KitError as error:
        print(f"pipeline.py: {error}", file=sys.stderr)
        return error.exit_code
    except (BotoCoreError, ClientError) as error:
        print(f"pipeline.py: AWS refused: {error}", file=sys.stderr)
        return 1
    uploaded = " not uploaded" if options.dry_run else ""
    print(f"pipeline.py: wrote {options.output} ({context.template}, {len(rebuilt.code_uris)} step files{uploaded})")
    return 0
