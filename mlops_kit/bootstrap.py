"""``mlops-kit new-project``: write a validated project file and its seed code, or nothing at all."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from mlops_kit.config import KitConfig, load_project
from mlops_kit.config.common import PRINCIPAL_PATTERN
from mlops_kit.config.loader import parse_yaml
from mlops_kit.config.project import PROJECT_TEMPLATES, ProjectConfig, project_name_problem
from mlops_kit.config.validation import validate_document
from mlops_kit.errors import ConfigError, KitError

# The step code every project starts from; it is copied, so each team owns its copy.
SEED_STEPS = ("preprocess.py", "train.py", "evaluate.py", "synthetic.py")
# The seed's own files: its tests, the build's definition script and what the build installs.
SEED_FILES = ("tests/test_steps.py", "pipeline.py", "requirements.txt")


@dataclass(frozen=True)
class CreatedProject:
    config_file: Path
    seed_folder: Path
    project: ProjectConfig


DESCRIPTION_MAX = 256  # ProjectConfig.description's max_length


def _usage(argument: str, message: str) -> KitError:
    return KitError(f"mlops-kit new-project: {argument}: {message}")


def render_project_file(name: str, template: str, owners: list[str], description: str) -> str:
    text = resources.files("mlops_kit.templates").joinpath("project.yaml.tmpl").read_text(encoding="utf-8")
    owner_lines = "".join(f"\n  - {arn}" for arn in owners) if owners else " []"
    # JSON's string syntax is a valid YAML double-quoted scalar: quotes and backslashes survive as typed.
    return Template(text).substitute(name=name, template=template, owners=owner_lines, description=json.dumps(description, ensure_ascii=False))


def create_project(
    *, projects_dir: Path, kit: KitConfig, name: str, template: str, owners: list[str], description: str = ""
) -> CreatedProject:
    """Check every input first, then write ``<name>.yaml`` and ``<name>/`` in one move."""
    problem = project_name_problem(name)
    if problem:
        raise _usage("NAME", f"got {name!r}: {problem}")
    if len(description) > DESCRIPTION_MAX or any(not char.isprintable() for char in description):
        raise _usage(
            "--description",
            f"got {description[:40]!r}{'...' if len(description) > 40 else ''} ({len(description)} characters): "
            f"allowed: one line of at most {DESCRIPTION_MAX} printable characters (no newlines or tabs)",
        )
    if template not in PROJECT_TEMPLATES:
        raise _usage("--template", f"got {template!r}; allowed: {', '.join(PROJECT_TEMPLATES)}")
    for owner in owners:
        if not PRINCIPAL_PATTERN.match(owner):
            raise _usage("--owner", f"got {owner!r}: not an IAM principal ARN (arn:aws:iam::<account>:role/<name>)")
    config_file = projects_dir / f"{name}.yaml"
    seed_folder = projects_dir / name
    for existing in (config_file, seed_folder):
        if existing.exists():
            raise _usage("NAME", f"{existing} already exists; choose another name or edit the existing project")
    if any(project.name == name for project in kit.projects):
        raise _usage("NAME", f"a project named {name!r} exists already")

    text = render_project_file(name, template, owners, description)
    # Validate exactly what will be written, including the name-length rule with the prefix.
    validate_document(ProjectConfig, parse_yaml(text, str(config_file)))

    projects_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".new-{name}-", dir=projects_dir))
    try:
        staged_file = staging / f"{name}.yaml"
        staged_file.write_text(text, encoding="utf-8")
        try:
            project = load_project(staged_file, kit.prefix, kit.delivery)
        except ConfigError as error:
            raise ConfigError(str(config_file), error.field, error.detail, error.line) from None
        _write_seed(staging / name, name=name, template=template)
        staged_file.rename(config_file)
        (staging / name).rename(seed_folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return CreatedProject(config_file=config_file, seed_folder=seed_folder, project=project)


def _write_seed(folder: Path, *, name: str, template: str) -> None:
    steps_source = resources.files("mlops_kit.pipelines.steps")
    seed_source = resources.files("mlops_kit.templates").joinpath("seed")
    (folder / "steps").mkdir(parents=True)
    (folder / "tests").mkdir()
    for step in SEED_STEPS:
        (folder / "steps" / step).write_text(steps_source.joinpath(step).read_text(encoding="utf-8"), encoding="utf-8")
    for copied in SEED_FILES:
        (folder / copied).write_text(seed_source.joinpath(*copied.split("/")).read_text(encoding="utf-8"), encoding="utf-8")
    readme = seed_source.joinpath("README.md.tmpl").read_text(encoding="utf-8")
    (folder / "README.md").write_text(Template(readme).substitute(name=name, template=template), encoding="utf-8")
