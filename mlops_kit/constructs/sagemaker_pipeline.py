"""Deploy a SageMaker Pipelines definition (built offline with the sagemaker SDK) as CloudFormation."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from aws_cdk import Annotations, CfnTag, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_kit.errors import KitError

# Past this size the definition ships as an S3 asset instead of inline template text.
INLINE_LIMIT_BYTES = 50_000
# CloudFormation's template limit is 1 MB; an inline definition must leave room for the rest.
MAX_INLINE_WITH_TOKENS_BYTES = 800_000
_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_CODE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LEFTOVER_PLACEHOLDER = "mlopskit-token-"

Definition = str | Callable[[Mapping[str, str]], str]


class SageMakerPipeline(Construct):
    """An ``AWS::SageMaker::Pipeline`` from definition JSON that may hold CDK tokens.

    ``definition`` is the JSON text from ``Pipeline.definition()`` of the sagemaker SDK,
    or a function that receives the S3 URLs of ``code_assets`` (name -> ``s3://`` URL) and
    returns that text; this is how step code travels: each local file or folder in
    ``code_assets`` becomes a CDK asset, uploaded by ``cdk deploy``, never by the SDK.
    CDK tokens inside the text (role ARN, bucket names, key ARN) become CloudFormation
    functions in the template. A definition over ``inline_limit_bytes`` (50 KB) without
    tokens ships as an S3 asset (``PipelineDefinitionS3Location``); with tokens it stays
    inline, because CloudFormation cannot resolve tokens inside an S3 file, and a
    warning says so. ``role`` may read the code assets.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        definition: Definition,
        role: iam.IRole,
        code_assets: Mapping[str, str | Path] | None = None,
        description: str | None = None,
        display_name: str | None = None,
        max_parallel_steps: int | None = None,
        inline_limit_bytes: int = INLINE_LIMIT_BYTES,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not Token.is_unresolved(pipeline_name) and not _PIPELINE_NAME.match(pipeline_name):
            raise KitError(
                f"pipeline_name {pipeline_name!r} is invalid: 1 to 256 letters, digits and single hyphens, starting with a letter or digit"
            )
        if max_parallel_steps is not None and max_parallel_steps < 1:
            raise KitError(f"max_parallel_steps must be 1 or more, got {max_parallel_steps}")
        self.pipeline_name = pipeline_name
        self.role = role

        self.code_assets: dict[str, s3_assets.Asset] = {}
        for name, path in sorted((code_assets or {}).items()):
            if not _CODE_NAME.match(name):
                raise KitError(f"code asset name {name!r} is invalid: lowercase letters, digits, _ and -, starting with a letter")
            if not Path(path).exists():
                raise KitError(f"code asset {name!r}: {path} does not exist; give the path of a step's code file or folder")
            asset = s3_assets.Asset(self, f"Code{''.join(p.capitalize() for p in re.split('[-_]', name))}", path=str(path))
            asset.grant_read(role)
            self.code_assets[name] = asset
        # Spelled out as s3://bucket/key (not the single-token s3_object_url) so that SDK
        # builders that check the URI's shape see a bucket and a key.
        self.code_urls: dict[str, str] = {
            name: f"s3://{asset.s3_bucket_name}/{asset.s3_object_key}" for name, asset in self.code_assets.items()
        }

        text = definition(self.code_urls) if callable(definition) else definition
        self.definition = self._check(text)
        size = len(self.definition.encode("utf-8"))
        has_tokens = Token.is_unresolved(self.definition)
        self.definition_asset: s3_assets.Asset | None = None
        if size > inline_limit_bytes and not has_tokens:
            self.definition_asset = self._definition_asset(self.definition)
            body: dict[str, object] = {
                "PipelineDefinitionS3Location": {
                    "Bucket": self.definition_asset.s3_bucket_name,
                    "Key": self.definition_asset.s3_object_key,
                }
            }
        else:
            if size > MAX_INLINE_WITH_TOKENS_BYTES:
                raise KitError(
                    f"pipeline {pipeline_name!r}: the definition is {size // 1000} KB and holds CDK tokens, so it must stay inline, "
                    f"but CloudFormation templates stop at 1 MB; pass deploy-time values as pipeline parameters instead of tokens"
                )
            if size > inline_limit_bytes:
                Annotations.of(self).add_warning_v2(
                    "mlops-kit:PipelineDefinitionInline",
                    f"the definition is {size // 1000} KB but holds CDK tokens, which CloudFormation resolves only inline; "
                    "it stays in the template (1 MB limit)",
                )
            body = {"PipelineDefinitionBody": self.definition}

        # CfnPipeline types PipelineDefinition as plain JSON, so CDK passes a struct through
        # with camelCase keys that CloudFormation rejects: spell the CloudFormation keys out.
        self.resource = sagemaker.CfnPipeline(
            self,
            "Resource",
            pipeline_name=pipeline_name,
            pipeline_definition=body,
            role_arn=role.role_arn,
            pipeline_description=description,
            pipeline_display_name=display_name,
            # Typed as raw JSON by the L1: written as CloudFormation spells it.
            parallelism_configuration={"MaxParallelExecutionSteps": max_parallel_steps} if max_parallel_steps else None,
            tags=[CfnTag(key=k, value=v) for k, v in sorted((tags or {}).items())] or None,
        )
        self.pipeline_arn = self.resource.stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)

    def _check(self, text: object) -> str:
        if not isinstance(text, str):
            raise KitError(f"pipeline {self.pipeline_name!r}: the definition must be JSON text (Pipeline.definition()), got {type(text).__name__}")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise KitError(f"pipeline {self.pipeline_name!r}: the definition is not valid JSON ({error.msg} at position {error.pos})") from None
        if not isinstance(document, dict) or "Steps" not in document:
            raise KitError(f"pipeline {self.pipeline_name!r}: the definition has no 'Steps'; pass the text of Pipeline.definition()")
        if _LEFTOVER_PLACEHOLDER in text:
            raise KitError(f"pipeline {self.pipeline_name!r}: the definition still holds a token placeholder ({_LEFTOVER_PLACEHOLDER}...)")
        return text

    def _definition_asset(self, text: str) -> s3_assets.Asset:
        # A content-addressed file, so two synths give the same asset hash and template.
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / "mlops-kit-pipeline-definitions"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{digest}.json"
        if not path.exists():
            path.write_text(text, encoding="utf-8")
        return s3_assets.Asset(self, "DefinitionAsset", path=str(path))

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Start, stop, retry and watch executions of this pipeline."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:StartPipelineExecution", "sagemaker:StopPipelineExecution", "sagemaker:RetryPipelineExecution",
                "sagemaker:DescribePipeline", "sagemaker:ListPipelineExecutions",
            ],
            resource_arns=[self.pipeline_arn, f"{self.pipeline_arn}/*"],
        )
