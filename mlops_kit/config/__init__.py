"""Typed, validated configuration. Every error names the file, the field and the line."""

from __future__ import annotations

from pathlib import Path

from mlops_kit.config.backbone import INTERFACE_ENDPOINTS, PERSONAS
from mlops_kit.config.delivery import DeliveryConfig
from mlops_kit.config.loader import dotted, read_yaml
from mlops_kit.config.model import KitConfig
from mlops_kit.config.project import LONGEST_SUFFIX, MAX_SAGEMAKER_NAME, ProjectConfig, project_name_problem
from mlops_kit.config.validation import validate_document
from mlops_kit.errors import ConfigError

DEFAULT_CONFIG = Path("kit.yaml")
PROJECTS_DIR = "projects"

__all__ = [
    "DEFAULT_CONFIG",
    "INTERFACE_ENDPOINTS",
    "PERSONAS",
    "ConfigError",
    "KitConfig",
    "ProjectConfig",
    "json_schema_text",
    "kit_root",
    "load_config",
    "load_project",
    "projects_dir_of",
]


def json_schema_text() -> str:
    """kit.yaml's JSON Schema, as ``mlops-kit schema`` writes it (stable key order)."""
    import json

    document = KitConfig.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "sagemaker-mlops-kit configuration (kit.yaml)"
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def kit_root(config_path: Path) -> Path | None:
    """The folder holding ``cdk.json`` (the CDK app): above the config file, else above the working directory."""
    for start in (config_path.resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "cdk.json").is_file():
                return folder
    return None


def projects_dir_of(config_path: Path) -> Path:
    """Projects live beside kit.yaml, in ``projects/``; a config without that folder uses the kit's own.

    So ``-c tests/configs/three-accounts/kit.yaml`` (or any config kept apart from the
    checkout) still builds the checkout's projects, as the delivery pipeline does.
    """
    beside = config_path.parent / PROJECTS_DIR
    if beside.is_dir():
        return beside
    root = kit_root(config_path)
    return root / PROJECTS_DIR if root is not None else beside


def load_project(path: Path, prefix: str, delivery: DeliveryConfig | None = None) -> ProjectConfig:
    """Read and validate one ``projects/<name>.yaml`` (against the kit's delivery settings when given)."""
    document = read_yaml(path)
    project = validate_document(ProjectConfig, document)
    if project.name != path.stem:
        raise ConfigError(
            document.file, "name", f"got {project.name!r}: must match the file name ({path.stem!r})", document.line_of(("name",))
        )
    longest = f"{prefix}-{project.name}{LONGEST_SUFFIX}"
    if len(longest) > MAX_SAGEMAKER_NAME:
        raise ConfigError(
            document.file,
            dotted(("name",)),
            f"with prefix {prefix!r} the endpoint name {longest!r} has {len(longest)} characters; "
            f"SageMaker allows {MAX_SAGEMAKER_NAME}: shorten the project name or the prefix",
            document.line_of(("name",)),
        )
    build = project.build
    kit_connection = delivery is not None and delivery.enabled and delivery.source is not None and delivery.source.kind == "codeconnections"
    if build.enabled and build.repository is not None and build.connection_arn is None and not kit_connection:
        raise ConfigError(
            document.file,
            "build.connection_arn",
            "required with build.repository when the kit's delivery source is not a CodeConnections connection: "
            "give the connection ARN of the project's repository host (arn:aws:codeconnections:<region>:<account>:connection/<uuid>)",
            document.line_of(("build", "repository")),
        )
    return project


def load_config(path: Path = DEFAULT_CONFIG, *, projects_dir: Path | None = None, project: str | None = None) -> KitConfig:
    """Read and validate ``kit.yaml`` and every ``projects/*.yaml`` beside it, or only ``projects/<project>.yaml``.

    With ``project`` (a project-scoped synth) no other project file is read, let alone
    validated: a team's synth then costs the same with 1 or 500 projects, and another team's
    broken file cannot stop it. Cross-project rules do not exist (the name is unique because it
    is the file name), so validating one file alone loses no check; the platform's own synth
    still validates them all.
    """
    document = read_yaml(path)
    if not document.data:
        # A fully default platform synthesizes, so a truncated or emptied kit.yaml would go unnoticed.
        raise ConfigError(
            document.file, None, "the file is empty (or holds only comments): write at least `prefix: <name>` to use the defaults"
        )
    config = validate_document(KitConfig, document)
    folder = projects_dir if projects_dir is not None else projects_dir_of(path)
    if project is not None:
        files = [_project_file(folder, project)]
    else:
        files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    projects = tuple(load_project(file, config.prefix, config.delivery) for file in files)
    return config.model_copy(update={"projects": projects})


def _project_file(folder: Path, name: str) -> Path:
    """``<folder>/<name>.yaml``, or a ConfigError that lists the project names there (file names only, none is read)."""
    file = folder / f"{name}.yaml"
    problem = project_name_problem(name)
    if problem:
        raise ConfigError(str(file), "project", f"got {name!r}: {problem}")
    if file.is_file():
        return file
    known = sorted(candidate.stem for candidate in folder.glob("*.yaml")) if folder.is_dir() else []
    allowed = f"one of {', '.join(known)}" if known else "none exists yet: create one with `mlops-kit new-project NAME`"
    raise ConfigError(str(file), "project", f"no project named {name!r} here; a project is a file {folder}/<name>.yaml: {allowed}")
