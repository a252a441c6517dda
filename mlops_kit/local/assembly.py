"""Read a CDK cloud assembly (``cdk.out/``) the way ``cdk deploy`` would, without the CDK CLI.

Only the top-level stacks are deployed, as ``cdk deploy --all`` does: stacks that sit in nested
assemblies (a CDK Pipelines ``Stage``) are the pipeline's to deploy. Stacks come back in
dependency order (the manifest's ``dependencies`` between stack artifacts, following asset
manifests through to the stacks that need them). File assets are zipped or copied and uploaded
to the bucket and key their asset manifest names, with ``${AWS::AccountId}``, ``${AWS::Region}``
and ``${AWS::Partition}`` filled in; Docker image assets cannot be built without Docker and are
reported, not built.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_kit.errors import KitError

STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"

# Fixed timestamp for zip entries, so the same folder always gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class AssemblyError(KitError, ValueError):
    """The cloud assembly is missing, malformed or has a dependency cycle, or no stack matches."""


@dataclass(frozen=True)
class FileAsset:
    """One file asset and where it must be uploaded."""

    asset_id: str
    source: Path
    packaging: str  # "zip" (a folder, or an existing .zip file) or "file"
    bucket: str
    key: str


@dataclass(frozen=True)
class StackArtifact:
    """A deployable stack of the assembly."""

    artifact_id: str
    stack_name: str
    template_file: Path
    dependencies: tuple[str, ...]
    parameters: dict[str, str]
    tags: dict[str, str]
    environment: str
    asset_manifest: Path | None
    file_assets: tuple[FileAsset, ...]
    docker_images: tuple[str, ...]
    termination_protection: bool = False

    def template(self) -> dict[str, Any]:
        with open(self.template_file, encoding="utf-8") as handle:
            data: dict[str, Any] = json.load(handle)
        return data


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: tuple[StackArtifact, ...] = field(default_factory=tuple)

    def stack(self, name: str) -> StackArtifact:
        for stack in self.stacks:
            if name in (stack.stack_name, stack.artifact_id):
                return stack
        raise AssemblyError(
            f"no stack named {name!r} in {self.directory}; have: {[s.stack_name for s in self.stacks]}"
        )

    def select(self, patterns: Iterable[str] | None) -> list[StackArtifact]:
        """Stacks matching any of ``patterns`` (fnmatch on name or artifact id), in deploy order."""
        import fnmatch

        wanted = list(patterns or [])
        if not wanted:
            return list(self.stacks)
        chosen = [
            s
            for s in self.stacks
            if any(
                fnmatch.fnmatchcase(s.stack_name, p) or fnmatch.fnmatchcase(s.artifact_id, p) for p in wanted
            )
        ]
        if not chosen:
            have = ", ".join(s.stack_name for s in self.stacks)
            raise AssemblyError(f"--stack: no stack matches {', '.join(wanted)}; the assembly has: {have}")
        return chosen


def substitute_placeholders(text: str, account_id: str, region: str, partition: str = "aws") -> str:
    return (
        text.replace("${AWS::AccountId}", account_id)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", partition)
    )


def load_assembly(
    directory: str | os.PathLike[str], account_id: str = "123456789012", region: str = "us-east-1"
) -> CloudAssembly:
    """Parse ``directory/manifest.json``; stacks come back in dependency order."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"{manifest_path} does not exist: run `cdk synth` (or `make synth`) first")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AssemblyError(f"{manifest_path} is not valid JSON: {error}") from error
    artifacts: dict[str, Any] = manifest.get("artifacts") or {}

    stacks: dict[str, StackArtifact] = {}
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") != STACK_ARTIFACT:
            continue
        props = artifact.get("properties") or {}
        template_name = props.get("templateFile")
        if not template_name:
            raise AssemblyError(f"{manifest_path}: stack artifact {artifact_id!r} has no templateFile")
        asset_manifest = _asset_manifest_for(root, artifacts, artifact)
        file_assets, docker_images = (
            _read_asset_manifest(root, asset_manifest, account_id, region) if asset_manifest else ((), ())
        )
        stacks[artifact_id] = StackArtifact(
            artifact_id=artifact_id,
            stack_name=props.get("stackName") or artifact_id,
            template_file=root / template_name,
            dependencies=tuple(artifact.get("dependencies") or ()),
            parameters={str(k): str(v) for k, v in (props.get("parameters") or {}).items()},
            tags={str(k): str(v) for k, v in (props.get("tags") or {}).items()},
            environment=artifact.get("environment", ""),
            asset_manifest=asset_manifest,
            file_assets=file_assets,
            docker_images=docker_images,
            termination_protection=bool(props.get("terminationProtection", False)),
        )
    ordered = _topological(stacks, artifacts, manifest_path)
    return CloudAssembly(directory=root, stacks=tuple(ordered))


def _asset_manifest_for(root: Path, artifacts: dict[str, Any], artifact: dict[str, Any]) -> Path | None:
    for dep in artifact.get("dependencies") or ():
        dep_artifact = artifacts.get(dep) or {}
        if dep_artifact.get("type") == ASSET_MANIFEST_ARTIFACT:
            return root / str(dep_artifact["properties"]["file"])
    return None


def _read_asset_manifest(
    root: Path, path: Path, account_id: str, region: str
) -> tuple[tuple[FileAsset, ...], tuple[str, ...]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assets: list[FileAsset] = []
    for asset_id, entry in (data.get("files") or {}).items():
        source = entry.get("source") or {}
        if "path" not in source:
            # "executable" sources build the asset with a command; nothing to upload as-is.
            continue
        for destination in (entry.get("destinations") or {}).values():
            assets.append(
                FileAsset(
                    asset_id=asset_id,
                    source=root / source["path"],
                    packaging=source.get("packaging", "file"),
                    bucket=substitute_placeholders(destination["bucketName"], account_id, region),
                    key=substitute_placeholders(destination["objectKey"], account_id, region),
                )
            )
    docker = tuple(sorted((data.get("dockerImages") or {}).keys()))
    return tuple(assets), docker


def _topological(
    stacks: dict[str, StackArtifact], artifacts: dict[str, Any], where: Path
) -> list[StackArtifact]:
    def stack_deps(artifact_id: str, seen: set[str] | None = None) -> set[str]:
        # A stack may depend on an asset manifest that in turn depends on a stack; follow through.
        seen = seen if seen is not None else set()
        result: set[str] = set()
        for dep in (artifacts.get(artifact_id) or {}).get("dependencies") or ():
            if dep in seen:
                continue
            seen.add(dep)
            if dep in stacks:
                result.add(dep)
            else:
                result |= stack_deps(dep, seen)
        return result

    deps = {name: stack_deps(name) for name in stacks}
    ordered: list[StackArtifact] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise AssemblyError(f"{where}: dependency cycle between stacks: {' -> '.join([*trail, name])}")
        state[name] = 1
        for dep in sorted(deps[name]):
            visit(dep, [*trail, name])
        state[name] = 2
        ordered.append(stacks[name])

    for name in stacks:  # manifest order, as the CDK writes it, for stacks without dependencies
        visit(name, [])
    return ordered


def package_asset(asset: FileAsset) -> bytes:
    """The bytes to upload: a deterministic zip of a folder, or the file itself."""
    source = asset.source
    if not source.exists():
        raise AssemblyError(f"asset {asset.asset_id}: {source} does not exist (re-run `cdk synth`)")
    if asset.packaging == "zip" and source.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_ZIP_EPOCH)
                info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        return buffer.getvalue()
    return source.read_bytes()


def publish_file_assets(
    stack: StackArtifact,
    s3_client: Any,
    progress: Callable[[str], None] = lambda _line: None,
    published: set[tuple[str, str]] | None = None,
) -> list[str]:
    """Upload ``stack``'s file assets to the embedded S3; returns ``bucket/key`` of each upload.

    Buckets that do not exist are created (the bootstrap normally made the one CDK uses).
    ``published`` remembers uploads across stacks, so shared assets go up once.
    """
    done = published if published is not None else set()
    uploaded: list[str] = []
    for asset in stack.file_assets:
        if (asset.bucket, asset.key) in done:
            continue
        body = package_asset(asset)
        try:
            s3_client.head_bucket(Bucket=asset.bucket)
        except Exception:  # botocore ClientError 404: the bucket is not there yet
            progress(f"  creating asset bucket {asset.bucket} (not made by the bootstrap)")
            s3_client.create_bucket(Bucket=asset.bucket)
        s3_client.put_object(Bucket=asset.bucket, Key=asset.key, Body=body)
        done.add((asset.bucket, asset.key))
        uploaded.append(f"{asset.bucket}/{asset.key}")
    return uploaded
