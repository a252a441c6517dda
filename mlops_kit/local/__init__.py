"""The embedded AWS behind ``mlops-kit deploy --local``: moto on 127.0.0.1, and a deploy engine for it.

Typical use::

    from mlops_kit.local import EmbeddedAws, deploy_assembly, printer, render_table

    with EmbeddedAws(keep=False) as aws:
        result = deploy_assembly("cdk.out", aws, progress=printer())
        print(render_table(result.stacks))
    raise SystemExit(0 if result.ok else 1)

Modules: ``server`` (the moto process), ``assembly`` (reading ``cdk.out``, uploading assets),
``plan`` (what moto's CloudFormation can create, and in which wave), ``intrinsics`` (resolving
CloudFormation functions), ``sagemaker_api`` (SageMaker types moto's CloudFormation skips),
``service_api`` (other skipped types whose service API moto has: policies, alarms, budgets, Glue),
``verify`` (describe calls per type), ``deploy`` (bootstrap, deploy, destroy), ``report``,
``moto_shims`` (what the moto server process is patched with so the deploy flow executes),
``deploy_flow`` (driving a deploy flow from outside: approval queue, executions, endpoints),
``demo`` and ``demo_flow`` (the end-to-end flow on the example project after a deploy),
``pipeline_runner`` (``run-pipeline --local``: a deployed SageMaker pipeline's steps run here, with
``pipeline_expr`` for its expressions, ``pipeline_jobs`` and ``transform_driver`` for the jobs).
"""

from mlops_kit.local.assembly import AssemblyError, CloudAssembly, StackArtifact, load_assembly
from mlops_kit.local.deploy import (
    BootstrapResult,
    DestroyReport,
    bootstrap,
    deploy_assembly,
    deploy_stack,
    destroy_stack,
    printer,
)
from mlops_kit.local.report import DeployResult, ResourceResult, StackReport, render_table
from mlops_kit.local.server import AwsEndpoint, EmbeddedAws, EmbeddedAwsError, aws_environment, embedded_aws

__all__ = [
    "AssemblyError",
    "AwsEndpoint",
    "BootstrapResult",
    "CloudAssembly",
    "DeployResult",
    "DestroyReport",
    "EmbeddedAws",
    "EmbeddedAwsError",
    "ResourceResult",
    "StackArtifact",
    "StackReport",
    "aws_environment",
    "bootstrap",
    "deploy_assembly",
    "deploy_stack",
    "destroy_stack",
    "embedded_aws",
    "load_assembly",
    "printer",
    "render_table",
]
