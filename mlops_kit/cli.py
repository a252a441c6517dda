"""The ``mlops-kit`` command: reads and writes configuration and drives synth, checks and deploys.

It never builds resources by itself: every resource comes from the CDK app (``app.py``).
A mistake in a config file or on the command line prints one plain message and exits 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from mlops_kit.cli_support import NEXT_STEPS, cdk_command, fail, run_app
from mlops_kit.config import DEFAULT_CONFIG, load_config
from mlops_kit.errors import KitError

app = typer.Typer(
    name="mlops-kit",
    help="Build, check and run the three-tier SageMaker MLOps platform.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# The same synth as the delivery pipeline's Synth step (delivery_pipeline.synth_commands):
# no context lookups, so it needs no credentials and gives the same templates everywhere.
SYNTH_ARGS = ("synth", "--quiet", "--no-lookups")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The platform configuration file.")]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mlops-kit {version('sagemaker-mlops-kit')}")
        raise typer.Exit()


@app.callback(context_settings={"help_option_names": ["-h", "--help"]})
def _main(
    _version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the kit's version and exit.")
    ] = False,
) -> None:
    """Build, check and run the three-tier SageMaker MLOps platform."""


def project_root(config: Path) -> Path:
    """The folder with cdk.json (above the config, else above the working directory): the CDK CLI runs from there."""
    from mlops_kit.config import kit_root

    root = kit_root(config)
    if root is None:
        raise fail(KitError(f"{config}: no cdk.json above it or above {Path.cwd()}; run from the kit's checkout or keep the config inside it"))
    return root


@app.command()
def validate(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Check the configuration and say what is wrong, or that it is valid."""
    try:
        loaded = load_config(config)
    except KitError as error:
        raise fail(error) from None
    typer.echo(
        f"{config}: valid (prefix {loaded.prefix}, {loaded.network.az_count} AZs, internet {loaded.network.internet}, "
        f"{len(loaded.projects)} project(s))"
    )


@app.command()
def schema(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the JSON Schema; '-' prints it.")] = Path(
        "kit.schema.json"
    ),
) -> None:
    """Write the JSON Schema of kit.yaml so editors can complete and check it."""
    from mlops_kit.config import json_schema_text

    text = json_schema_text()
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    if not output.parent.is_dir() or output.is_dir():
        raise fail(KitError(f"mlops-kit schema: --output: {output}: give a file in an existing folder, or '-' to print it"))
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


@app.command("execution-policy")
def execution_policy(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Print the CloudFormation execution policy for `cdk bootstrap` (instead of AdministratorAccess)."""
    from mlops_kit.execution_policy import render

    try:
        loaded = load_config(config)
    except KitError as error:
        raise fail(error) from None
    typer.echo(render(loaded.prefix), nl=False)


def run_synth(config: Path, output: Path, *, quiet: bool = False, project: str | None = None) -> float:
    """Synthesize with the real CDK CLI into a fresh folder, then swap it into ``output``.

    ``output`` is replaced only when synth succeeds, so a failed run leaves the last good
    cloud assembly untouched. ``quiet`` keeps the CLI's own output back unless it fails.
    ``project`` builds that project's stack alone (``--context project=NAME``).
    """
    root = project_root(config)
    output = output if output.is_absolute() else root / output
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".cdk.out.", dir=output.parent))
    command = [*cdk_command(root), *SYNTH_ARGS, "--output", str(staging), "--context", f"config={config.resolve()}"]
    if project is not None:
        command += ["--context", f"project={project}"]
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=root, env={**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}, check=False, capture_output=quiet, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        shutil.rmtree(staging, ignore_errors=True)
        typer.echo(f"error: cdk synth failed (exit {result.returncode}); {output.name}/ was left as it was", err=True)
        raise typer.Exit(1)
    if output.exists():
        retired = output.with_name(output.name + ".old")
        shutil.rmtree(retired, ignore_errors=True)
        output.rename(retired)
        shutil.rmtree(retired, ignore_errors=True)
    shutil.move(staging, output)
    return elapsed


@app.command()
def synth(
    config: ConfigOption = DEFAULT_CONFIG,
    output: Annotated[Path, typer.Option("--output", "-o", help="Cloud assembly folder.")] = Path("cdk.out"),
    checks: Annotated[bool, typer.Option(help="Run cfn-lint and summarise cdk-nag after synth.")] = True,
    cache: Annotated[bool, typer.Option(help="Reuse cfn-lint findings of templates whose bytes did not change.")] = True,
    project: Annotated[
        str | None,
        typer.Option(help="Build only this project's stack (Project-NAME); no other project file is read."),
    ] = None,
) -> None:
    """Synthesize the platform with the CDK CLI, then run cdk-nag and cfn-lint over it."""
    try:
        load_config(config, project=project)
    except KitError as error:
        raise fail(error) from None
    elapsed = run_synth(config, output, project=project)
    assembly = output if output.is_absolute() else project_root(config) / output
    typer.echo(f"synthesized {assembly}/ in {elapsed:.1f} s")
    if checks:
        _report(assembly, use_cache=cache)


def _report(assembly: Path, *, use_cache: bool = True) -> None:
    from mlops_kit.checks import summarize
    from mlops_kit.costs import estimate

    summary = summarize(assembly, use_cache=use_cache)
    typer.echo(summary.render())
    typer.echo(estimate(assembly).brief() + " (`mlops-kit cost` itemises it)")
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def cost(
    assembly: Annotated[Path, typer.Option("--assembly", "-a", help="Cloud assembly folder from `mlops-kit synth`.")] = Path("cdk.out"),
    brief: Annotated[bool, typer.Option(help="Print only the one-line total.")] = False,
) -> None:
    """Estimate what the synthesized platform costs a month while idle, per stack and in total."""
    from mlops_kit.costs import estimate

    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"mlops-kit cost: --assembly: {assembly}/manifest.json not found; run `mlops-kit synth` first"))
    try:
        result = estimate(assembly)
    except KitError as error:
        raise fail(error) from None
    typer.echo(result.brief() if brief else result.render())


@app.command()
def check(
    assembly: Annotated[Path, typer.Option("--assembly", "-a", help="Cloud assembly folder.")] = Path("cdk.out"),
    cache: Annotated[bool, typer.Option(help="Reuse cfn-lint findings of templates whose bytes did not change.")] = True,
) -> None:
    """Summarise cdk-nag and run cfn-lint over an already synthesized cloud assembly."""
    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"{assembly}: no cloud assembly here (manifest.json missing); run `mlops-kit synth` first"))
    _report(assembly, use_cache=cache)


@app.command()
def report(
    assembly: Annotated[Path, typer.Option("--assembly", "-a", help="Cloud assembly folder from `mlops-kit synth`.")] = Path("cdk.out"),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The HTML file to write; default: ASSEMBLY/report.html.")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse cfn-lint findings of templates whose bytes did not change.")] = True,
) -> None:
    """Write one self-contained HTML page: tier diagram, personas, checks, idle cost, projects and pipelines."""
    from mlops_kit.report import write_report

    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"mlops-kit report: --assembly: {assembly}/manifest.json not found; run `mlops-kit synth` first"))
    target = output if output is not None else assembly / "report.html"
    if not target.parent.is_dir():
        raise fail(KitError(f"mlops-kit report: --output: folder {target.parent}/ does not exist; give a file in an existing folder"))
    if target.is_dir():
        raise fail(KitError(f"mlops-kit report: --output: {target} is a folder; give a file name such as {target}/report.html"))
    try:
        write_report(assembly, target, use_cache=cache)
    except KitError as error:
        raise fail(error) from None
    typer.echo(f"report: {target.resolve()}")


@app.command()
def diff(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to compare (globs); default: all.")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    assembly: Annotated[Path, typer.Option("--assembly", "-a", help="The last good cloud assembly.")] = Path("cdk.out"),
    new: Annotated[
        Path | None, typer.Option("--new", help="Compare with this cloud assembly instead of synthesizing now.")
    ] = None,
    brief: Annotated[bool, typer.Option(help="Only the one-line summary per stack.")] = False,
    fail_on_change: Annotated[bool, typer.Option("--fail", help="Exit 1 when anything differs.")] = False,
) -> None:
    """Compare the current synth with the last good one, offline (no account needed, unlike `cdk diff`)."""
    from mlops_kit.diff import diff_assemblies, render

    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"mlops-kit diff: --assembly: {assembly}/manifest.json not found; run `mlops-kit synth` first"))
    if new is not None and not (new / "manifest.json").exists():
        raise fail(KitError(f"mlops-kit diff: --new: {new}/manifest.json not found; give a synthesized cloud assembly"))
    scratch: Path | None = None
    try:
        if new is None:
            try:
                load_config(config)
            except KitError as error:
                raise fail(error) from None
            scratch = Path(tempfile.mkdtemp(prefix=".cdk.out.diff.", dir=project_root(config)))
            run_synth(config, scratch / "cdk.out", quiet=True)
            new = scratch / "cdk.out"
        try:
            diffs = diff_assemblies(assembly, new, stacks or None)
        except KitError as error:
            raise fail(error) from None
        typer.echo(render(diffs, verbose=not brief))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if fail_on_change and any(d.status != "unchanged" for d in diffs):
        raise typer.Exit(1)


@app.command("new-project")
def new_project(
    name: Annotated[str, typer.Argument(help="Project name: 2-30 lowercase letters, digits and hyphens.")],
    template: Annotated[str, typer.Option("--template", "-t", help="tabular-training or batch-inference.")],
    owner: Annotated[list[str] | None, typer.Option("--owner", help="IAM principal ARN of an owner; repeatable.")] = None,
    description: Annotated[str, typer.Option(help="One line about the project.")] = "",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Bootstrap an AI project: projects/NAME.yaml and its seed code in projects/NAME/."""
    from mlops_kit.bootstrap import create_project
    from mlops_kit.config import projects_dir_of

    try:
        kit = load_config(config)
        created = create_project(
            projects_dir=projects_dir_of(config), kit=kit, name=name, template=template, owners=owner or [], description=description
        )
    except KitError as error:
        raise fail(error) from None
    typer.echo(f"created {created.config_file} and {created.seed_folder}/")
    typer.echo("next steps:")
    typer.echo(f"  1. review {created.config_file} (owners, thresholds, budget alerts)")
    typer.echo(f"  2. run the seed tests:   .venv/bin/pytest {created.seed_folder}/tests")
    typer.echo(f"  3. synthesize and check: .venv/bin/mlops-kit synth --project {name}")
    typer.echo(f"  4. deploy:               npx cdk deploy Project-{name}")


@app.command()
def projects(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """List the AI projects: name, template, owners, budget."""
    try:
        kit = load_config(config)
    except KitError as error:
        raise fail(error) from None
    if not kit.projects:
        typer.echo("no projects yet: create one with `mlops-kit new-project NAME --template tabular-training`")
        return
    typer.echo(f"{'project':<24} {'template':<18} {'budget/month':>12}  owners")
    for project in kit.projects:
        owners = ", ".join(project.owners) or "(account IAM admins)"
        typer.echo(f"{project.name:<24} {project.template:<18} {project.budget.monthly_limit_usd:>11.0f}$  {owners}")


@app.command()
def deploy(
    local: Annotated[bool, typer.Option("--local", help="Deploy to an embedded AWS (moto server on 127.0.0.1).")] = False,
    keep: Annotated[bool, typer.Option(help="Leave the embedded AWS running and print how to reach it.")] = False,
    assembly: Annotated[Path, typer.Option("--assembly", "-a", help="Cloud assembly folder from `mlops-kit synth`.")] = Path("cdk.out"),
    stacks: Annotated[list[str] | None, typer.Option("--stack", help="Deploy only these stacks (globs); repeatable.")] = None,
    demo: Annotated[bool, typer.Option(help="After the deploy, run the end-to-end flow on the example project.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Every resource line and the per-stack tables.")] = False,
) -> None:
    """Deploy the synthesized platform. Only --local is offered here: for AWS use `npx cdk deploy`."""
    if not local:
        raise fail(KitError("mlops-kit deploy: --local is required; deploy to AWS with `npx cdk deploy` (README, DevOps guide)"))
    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"mlops-kit deploy: --assembly: {assembly}/manifest.json not found; run `mlops-kit synth` first"))
    from mlops_kit.local import EmbeddedAws, deploy_assembly, printer, render_table
    from mlops_kit.local.assembly import load_assembly

    try:  # a --stack that matches nothing is a command-line mistake: say so before a server starts
        load_assembly(assembly).select(stacks or None)
    except KitError as error:
        raise fail(error) from None
    started = time.perf_counter()
    ok = False
    with EmbeddedAws(keep=keep) as aws:
        typer.echo(f"embedded AWS on {aws.endpoint}")
        shown = printer()

        def stack_lines(line: str) -> None:
            # Without -v: what the deploy is doing per stack, not every resource.
            if line.startswith(("deploying ", "bootstrap: ")) or ": done in " in line or "FAILED" in line:
                shown(line)

        result = deploy_assembly(assembly, aws, stacks=stacks or None, progress=shown if verbose else stack_lines)
        if verbose or not result.ok:
            typer.echo(render_table(result.stacks))
        typer.echo(f"deploy: {'ok' if result.ok else 'FAILED'} in {time.perf_counter() - started:.1f} s")
        ok = result.ok
        if ok and demo:
            from mlops_kit.local.demo import run_demo

            ok = run_demo(aws, assembly, progress=shown, verbose=verbose)
            if ok:
                typer.echo("\n".join(NEXT_STEPS))
        if keep:
            typer.echo(aws.keep_message())
    if not ok:
        raise typer.Exit(1)


@app.command("run-pipeline")
def run_pipeline_command(
    name: Annotated[
        str, typer.Argument(help="A project name (its pipeline is <prefix>-NAME) or a pipeline's name.")
    ],
    local: Annotated[
        bool, typer.Option("--local", help="Run the steps here against an embedded AWS.")
    ] = False,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="The embedded AWS; default: $AWS_ENDPOINT_URL.")
    ] = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", "-p", help="A pipeline parameter KEY=VALUE; repeatable."),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Keep the jobs' folders here (default: a temporary folder)."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Run a project's deployed SageMaker pipeline step by step against a kept embedded AWS."""
    command = "mlops-kit run-pipeline"
    if not local:
        raise fail(
            KitError(
                f"{command}: --local is required; on AWS start it with `aws sagemaker start-pipeline-execution`"
            )
        )
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        raise fail(
            KitError(
                f"{command}: --endpoint-url: no embedded AWS given; pass --endpoint-url URL or export AWS_ENDPOINT_URL "
                "as `mlops-kit deploy --local --keep` prints it"
            )
        )
    overrides: dict[str, str] = {}
    for item in parameter or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(
                KitError(f"{command}: -p {item}: expected KEY=VALUE, e.g. -p InputDataUri=s3://bucket/raw/")
            )
        overrides[key] = value
    from mlops_kit.local import AwsEndpoint
    from mlops_kit.local.pipeline_runner import render_steps, resolve_pipeline_name, run_pipeline, verdict
    from mlops_kit.local.server import DEFAULT_REGION

    aws = AwsEndpoint(
        endpoint=url,
        region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION,
    )
    try:
        aws.client("sts").get_caller_identity()
    except Exception:  # any failure to reach it: refused, not a moto server, a timeout
        raise fail(
            KitError(
                f"{command}: --endpoint-url {url}: no embedded AWS answers there; start one with `mlops-kit deploy --local --keep`"
            )
        ) from None
    try:
        prefix = load_config(config).prefix if config.exists() else None
        pipeline = resolve_pipeline_name(aws, name, prefix)
        with tempfile.TemporaryDirectory(prefix="mlops-kit-run-") as scratch:
            run = run_pipeline(
                aws, pipeline, parameters=overrides, workdir=workdir or Path(scratch), progress=typer.echo
            )
    except KitError as error:
        raise fail(error) from None
    typer.echo(render_steps(run))
    for caveat in run.caveats:
        typer.echo(f"note: {caveat}")
    typer.echo(verdict(run))
    if run.model_package_arn:
        typer.echo(
            "next: approve it with `aws sagemaker update-model-package --model-package-arn "
            f"{run.model_package_arn} --model-approval-status Approved`"
        )
    if not run.ok:
        raise typer.Exit(1)


@app.command()
def destroy(
    targets: Annotated[list[str] | None, typer.Argument(help="Project-NAME, SharedAssets, DeliveryAccess and/or Backbone.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every project, then SharedAssets, then Backbone.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Act; without it, only print the plan.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="An embedded AWS (default: $AWS_ENDPOINT_URL, else AWS itself).")] = None,
    region: Annotated[str | None, typer.Option(help="Region (default: the environment's, e.g. $AWS_REGION).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait on each deletion (Studio apps can take ~20 minutes).")] = 1800.0,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Remove a project, SharedAssets or the whole platform in the order AWS requires (dry run unless --yes)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_kit.teardown import plan_teardown, run_teardown

    try:
        kit = load_config(config)
        session = boto3.session.Session(region_name=region)
        url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        plan = plan_teardown(lambda service: session.client(service, endpoint_url=url), prefix=kit.prefix,
                             targets=targets or [], everything=everything)
    except KitError as error:
        raise fail(error) from None
    except (BotoCoreError, ClientError) as error:  # no credentials, no access: one line, not a traceback
        raise fail(KitError(f"mlops-kit destroy: cannot read the account to plan the teardown: {error}")) from None
    typer.echo(plan.render())
    if not yes:
        typer.echo("dry run: nothing deleted; run again with --yes to delete in this order")
        return
    result = run_teardown(plan, timeout=timeout, progress=typer.echo)
    typer.echo(f"destroy: {'ok' if result.ok else 'FAILED'}: {len(result.deleted)} deleted, {len(result.retained)} retained")
    for failure in result.failed:
        typer.echo(f"error: {failure}", err=True)
    if not result.ok:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point: every error, click's usage errors included, is one line."""
    run_app(app)
