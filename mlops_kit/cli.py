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

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The platform configuration file.")]


def fail(error: KitError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(error.exit_code)


def project_root(config: Path) -> Path:
    """The folder with cdk.json: the CDK CLI runs from there."""
    return config.resolve().parent


def cdk_command(root: Path) -> list[str]:
    """The pinned CDK CLI from node_modules (``npm ci`` installs it), else npx."""
    local = root / "node_modules" / ".bin" / "cdk"
    return [str(local)] if local.exists() else ["npx", "--no-install", "cdk"]


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


def run_synth(config: Path, output: Path) -> float:
    """Synthesize with the real CDK CLI into a fresh folder, then swap it into ``output``.

    ``output`` is replaced only when synth succeeds, so a failed run leaves the last good
    cloud assembly untouched.
    """
    root = project_root(config)
    output = output if output.is_absolute() else root / output
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".cdk.out.", dir=output.parent))
    command = [*cdk_command(root), "synth", "--quiet", "--output", str(staging), "--context", f"config={config.resolve()}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, env={**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
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
) -> None:
    """Synthesize the platform with the CDK CLI, then run cdk-nag and cfn-lint over it."""
    try:
        load_config(config)
    except KitError as error:
        raise fail(error) from None
    elapsed = run_synth(config, output)
    typer.echo(f"synthesized {output}/ in {elapsed:.1f} s")
    if checks:
        _report(project_root(config) / output if not output.is_absolute() else output)


def _report(assembly: Path) -> None:
    from mlops_kit.checks import summarize

    summary = summarize(assembly)
    typer.echo(summary.render())
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def check(
    assembly: Annotated[Path, typer.Option("--assembly", "-a", help="Cloud assembly folder.")] = Path("cdk.out"),
) -> None:
    """Summarise cdk-nag and run cfn-lint over an already synthesized cloud assembly."""
    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"{assembly}: no cloud assembly here (manifest.json missing); run `mlops-kit synth` first"))
    _report(assembly)


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
    typer.echo(f"  3. synthesize and check: npx cdk synth Project-{name}")
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
) -> None:
    """Deploy the synthesized platform. Only --local is offered here: for AWS use `npx cdk deploy`."""
    if not local:
        raise fail(KitError("mlops-kit deploy: --local is required; deploy to AWS with `npx cdk deploy` (README, DevOps guide)"))
    if not (assembly / "manifest.json").exists():
        raise fail(KitError(f"mlops-kit deploy: --assembly: {assembly}/manifest.json not found; run `mlops-kit synth` first"))
    from mlops_kit.local import EmbeddedAws, deploy_assembly, printer, render_table

    started = time.perf_counter()
    ok = False
    with EmbeddedAws(keep=keep) as aws:
        typer.echo(f"embedded AWS on {aws.endpoint}")
        result = deploy_assembly(assembly, aws, stacks=stacks or None, progress=printer())
        typer.echo(render_table(result.stacks))
        typer.echo(f"deploy: {'ok' if result.ok else 'FAILED'} in {time.perf_counter() - started:.1f} s")
        ok = result.ok
        if ok and demo:
            from mlops_kit.local.demo import run_demo

            ok = run_demo(aws, assembly, progress=printer())
        if keep:
            typer.echo(aws.keep_message())
    if not ok:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KitError as error:  # raised below a command that did not catch it
        typer.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
