"""`mlops-kit report` as users run it, and the page as headless Chromium draws it.

The page is checked twice: parsed as HTML (every section, one box per stack, the pipeline's steps,
no external URL) and rendered by Debian's `chromium` (a screenshot that is not blank and shows the
three tier colours, and the DOM the browser built). Without Chromium the render test fails and
names the package: the report itself needs no browser, its test does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import aws_cdk as cdk
import pytest
from PIL import Image

from mlops_kit.constructs.identity import persona_grants
from mlops_kit.costs import estimate
from mlops_kit.report.collect import collect
from mlops_kit.report.diagram import COLOURS
from tests.cli.test_cli import assert_plain_error, run, tree

SECTIONS = {"diagram", "personas", "checks", "cost", "projects"}


class Page(HTMLParser):
    """Ids, stack boxes, attributes that could fetch something, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.stacks: list[str] = []
        self.fetching: list[str] = []
        self.text: list[str] = []
        self.persona_rows = 0
        self._in_personas = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "section":
            self._in_personas = values.get("id") == "personas"
        if tag == "g" and values.get("data-stack"):
            self.stacks.append(str(values["data-stack"]))
        if tag == "tr" and self._in_personas:
            self.persona_rows += 1
        self.fetching += [f"{tag} {k}={v}" for k, v in attrs if k in ("src", "href", "srcset", "data") or "://" in str(v)]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def assembly(default_app: cdk.App) -> Path:
    return Path(default_app.outdir)


@pytest.fixture(scope="module")
def page_file(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("report") / "platform.html"
    result = run("report", "--assembly", str(assembly), "--output", str(target), cwd=target.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {target.resolve()}"
    return target


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_has_every_section_and_one_box_per_stack(page_file: Path, assembly: Path) -> None:
    page = parse(page_file)
    assert SECTIONS | {"tier-diagram"} <= page.ids
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = [a for a, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"]
    assert sorted(page.stacks) == sorted(stacks)
    assert page.persona_rows == 1 + len(persona_grants("mlops"))  # header + one row per persona
    assert page.fetching == []  # self-contained: nothing to fetch, no external URL
    text = " ".join(page.text)
    assert f"total idle {estimate(assembly).idle_total:,.2f}" in " ".join(text.split())
    assert "all checks passed" in text
    packs = {p.name.split("--", 1)[0] for p in assembly.rglob("*-NagReport.csv")}
    assert packs and all(pack in text for pack in packs)


def test_pipeline_steps_come_from_the_template_with_condition_branches(assembly: Path) -> None:
    report = collect(assembly)
    (project,) = report.projects
    (pipeline,) = project.pipelines
    template = json.loads((assembly / "Project-credit-risk.template.json").read_text())
    (body,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    assert pipeline.name == body["Properties"]["PipelineName"]
    steps = {step.name: step for step in pipeline.steps}
    assert [s.name for s in pipeline.steps if not s.branch] == ["Preprocess", "DataQualityBaseline", "Train", "Evaluate", "CheckQuality"]
    assert steps["RegisterModel"].branch == "if CheckQuality"
    assert steps["QualityGateFailed"].kind == "Fail" and steps["QualityGateFailed"].branch == "else CheckQuality"
    assert "Train" in steps["Evaluate"].after
    assert "AskForProductionApproval" in project.flow_states
    assert report.prefix == "mlops" and all(p.built for p in report.personas)


def test_fails_if_report_has_no_assembly_or_no_folder_and_writes_nothing(tmp_path: Path) -> None:
    assert_plain_error(run("report", "--assembly", str(tmp_path / "nope"), cwd=tmp_path), "manifest.json not found")
    (tmp_path / "cdk.out").mkdir()
    (tmp_path / "cdk.out" / "manifest.json").write_text("{}")
    result = run("report", "--assembly", "cdk.out", "--output", str(tmp_path / "no" / "r.html"), cwd=tmp_path)
    assert_plain_error(result, "--output: folder", "does not exist")
    assert tree(tmp_path) == ["cdk.out", "cdk.out/manifest.json"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("the report's render test needs headless Chromium: install Debian's `chromium` package (apt-get install -y chromium)")
    return found


def test_report_renders_in_headless_chromium(page_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    # --no-sandbox: CI runs as root; a private profile keeps parallel runs apart.
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*browser, "--window-size=1100,1400", f"--screenshot={shot}", page_file.as_uri()],
                   capture_output=True, timeout=180, check=True, cwd=tmp_path)
    dom = subprocess.run([*browser, "--dump-dom", page_file.as_uri()], capture_output=True, text=True, timeout=180, check=True, cwd=tmp_path).stdout
    assert 'id="tier-diagram"' in dom and "Project-credit-risk" in dom and "Backbone" in dom

    image = Image.open(shot).convert("RGB")
    assert image.size == (1100, 1400)
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    assert len(colours) > 100, f"only {len(colours)} colours: the page rendered (nearly) blank"
    background = max(colours)[1]
    inked = Image.eval(image, lambda v: 255 - v).getbbox()  # white background -> the box of anything drawn
    assert background == (255, 255, 255) and inked is not None
    assert inked[2] - inked[0] > 800 and inked[3] - inked[1] > 1000, inked
    counts = {rgb: n for n, rgb in colours}
    for tier, (fill, _) in COLOURS.items():
        if tier:  # each tier band is on screen, in its own colour
            rgb = tuple(int(fill[i : i + 2], 16) for i in (1, 3, 5))
            assert counts.get(rgb, 0) > 5000, (tier, fill)
