"""What every ``mlops-kit`` command shares: one-line failures, the CDK CLI to run, the next steps.

Kept apart from ``cli.py`` so the commands stay readable there.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import NoReturn

import typer

from mlops_kit.errors import KitError

# What a newcomer does after a green demo, one command a line (printed by `deploy --local --demo`).
NEXT_STEPS = (
    "next steps:",
    "  mlops-kit report                    the platform as one HTML page: tiers, personas, checks, cost, pipelines",
    "  mlops-kit deploy --local --keep     keep the embedded AWS running (it prints the exports) and approve a package by hand",
    "  mlops-kit new-project NAME -t tabular-training   your own project: projects/NAME.yaml and its seed code",
    "  npx cdk deploy Project-<name>       the same stacks on AWS (README, DevOps guide)",
)


def fail(error: KitError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(error.exit_code)


def cdk_command(root: Path) -> list[str]:
    """The pinned CDK CLI from node_modules (``npm ci`` installs it), else a global ``cdk``; one plain line when none can run.

    The CLI is a Node script: without ``node`` on PATH it dies with ``env: 'node': No such file``, and
    ``npx --no-install cdk`` without the package prints npm's "npx canceled". Say what to install instead.
    """
    if shutil.which("node") is None:
        raise fail(KitError("the CDK CLI needs Node.js 20 or newer and `node` is not on PATH; install it (https://nodejs.org), then run `npm ci`"))
    local = root / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return [str(local)]
    installed = shutil.which("cdk")  # a global `npm install -g aws-cdk`
    if installed is None:
        raise fail(KitError(f"the CDK CLI is not installed: {root}/node_modules/.bin/cdk not found; run `npm ci` in {root} (or `make setup`)"))
    return [installed]


def _click_error(name: str) -> type[Exception]:
    """Click's exception class ``name`` through typer's public ``BadParameter``: typer 0.29 vendors
    click as ``typer._click``, older releases re-export the ``click`` package; both keep the names."""
    return next(kind for kind in typer.BadParameter.__mro__ if kind.__name__ == name)


def run_app(app: typer.Typer) -> NoReturn:
    """Run the CLI; exit with its code.

    Click's own usage errors (a missing option, an unknown one, a bad value) would print a usage
    block, a hint and a boxed message; like a config mistake they get one line and exit 2.
    """
    usage_error, click_exception = _click_error("UsageError"), _click_error("ClickException")
    try:
        code = app(prog_name="mlops-kit", standalone_mode=False)
    except usage_error as error:
        context = getattr(error, "ctx", None)
        where = context.command_path if context is not None else "mlops-kit"
        if type(error).__name__ == "NoArgsIsHelpError" and context is not None:  # bare `mlops-kit`: its help
            typer.echo(context.get_help())
            sys.exit(0)
        message = error.format_message().rstrip(".")  # type: ignore[attr-defined]
        typer.echo(f"error: {where}: {message} (see `{where} -h`)", err=True)
        sys.exit(2)
    except click_exception as error:
        typer.echo(f"error: {error.format_message()}", err=True)  # type: ignore[attr-defined]
        sys.exit(getattr(error, "exit_code", 1))
    except typer.Abort:  # Ctrl-C at a prompt
        typer.echo("error: aborted", err=True)
        sys.exit(130)
    except KitError as error:  # raised below a command that did not catch it
        typer.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
