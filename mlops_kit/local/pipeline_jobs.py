"""Processing and Training jobs of a pipeline run as local subprocesses under SageMaker's container contract.

Each job gets its own folder standing for the container's file system; ``/opt/ml/...`` paths of
the job request map to ``<folder>/opt/ml/...`` and the folder is also passed as
``MLOPS_KIT_OPT_ML`` (the kit's step scripts read their default paths from it). What SageMaker
does around the container is reproduced with the embedded AWS's S3:

- Processing (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Input.html,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Output.html): each
  ``S3Input`` (``S3Prefix``, ``File`` mode) is downloaded to its ``LocalPath`` before the
  entrypoint starts; each output ``LocalPath`` exists when it starts and its files are uploaded
  under the output's ``S3Uri`` at the end (``EndOfJob``), encrypted with ``KmsKeyId``.
- Training (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html):
  channels at ``/opt/ml/input/data/<channel>``, ``/opt/ml/input/config/hyperparameters.json``
  and ``inputdataconfig.json``; the script-mode toolkit's ``SM_CHANNEL_<NAME>``, ``SM_CHANNELS``,
  ``SM_MODEL_DIR``, ``SM_OUTPUT_DATA_DIR``, ``SM_HPS`` and ``--name value`` arguments for the
  hyperparameters that are not ``sagemaker_*``; ``sagemaker_program`` run from
  ``sagemaker_submit_directory``. ``/opt/ml/model`` is packed as ``model.tar.gz`` and uploaded to
  ``<S3OutputPath>/<job name>/output/model.tar.gz``, ``/opt/ml/output/data`` as ``output.tar.gz``
  beside it. ``MetricDefinitions`` regexes are matched on the job's output.

With ``EnableNetworkIsolation`` the subprocess gets no AWS endpoint or credentials, as the
isolated container has none.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONTAINER_ROOT = "/opt/ml"
_LOG_TAIL = 3


class JobFailed(Exception):
    """The job could not run or its script failed; the message is the step's failure reason."""


@dataclass
class JobResult:
    properties: dict[str, Any]  # what the Describe* call of the job would answer
    detail: str
    local_outputs: dict[str, Path] = field(default_factory=dict)  # output name -> folder


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise JobFailed(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def download(s3: Any, uri: str, target: Path) -> int:
    """Copy every object under an S3 prefix into ``target`` (keys relative to the prefix)."""
    bucket, prefix = split_s3(uri)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            if key.endswith("/") or not relative:
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(destination))
            count += 1
    if not count:
        raise JobFailed(f"no object under {uri}")
    return count


def upload_file(s3: Any, path: Path, uri: str, kms_key: str | None) -> None:
    bucket, key = split_s3(uri)
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    s3.upload_file(str(path), bucket, key, ExtraArgs=extra or None)


def upload_folder(s3: Any, folder: Path, uri: str, kms_key: str | None) -> int:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    for path in files:
        upload_file(s3, path, f"{uri.rstrip('/')}/{path.relative_to(folder).as_posix()}", kms_key)
    return len(files)


class Container:
    """A folder standing for one job container's file system."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.opt_ml = root / "opt" / "ml"
        self.opt_ml.mkdir(parents=True, exist_ok=True)

    def path(self, container_path: str) -> Path:
        if container_path == CONTAINER_ROOT or container_path.startswith(CONTAINER_ROOT + "/"):
            return self.opt_ml / container_path[len(CONTAINER_ROOT) :].lstrip("/")
        return self.root / container_path.lstrip("/")

    def translate(self, argument: str) -> str:
        """Container paths on a command line become their local stand-ins."""
        return str(self.path(argument)) if argument.startswith("/") else argument

    def environment(self, extra: dict[str, str], *, isolated: bool) -> dict[str, str]:
        keep = {key: value for key, value in os.environ.items() if not (isolated and key.startswith("AWS_"))}
        return {**keep, **extra, "MLOPS_KIT_OPT_ML": str(self.opt_ml), "PYTHONDONTWRITEBYTECODE": "1"}

    def run(self, command: list[str], env: dict[str, str], *, cwd: Path, timeout: int | None) -> str:
        log = self.root / "job.log"
        try:
            result = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise JobFailed(f"stopped after MaxRuntimeInSeconds={timeout}") from None
        except OSError as error:
            raise JobFailed(f"cannot start {command[0]}: {error.strerror}") from None
        output = result.stdout + result.stderr
        log.write_text(output, encoding="utf-8")
        if result.returncode != 0:
            tail = " | ".join(line for line in output.strip().splitlines()[-_LOG_TAIL:])
            raise JobFailed(f"exit {result.returncode}: {tail or 'no output'} (log: {log})")
        return output


def _python(command: list[str]) -> list[str]:
    """The image's ``python3`` is this interpreter: it has the kit's scikit-learn stack."""
    head = command[0].rsplit("/", 1)[-1] if command else ""
    return [sys.executable, *command[1:]] if re.fullmatch(r"python(3(\.\d+)?)?", head) else command


def run_processing(s3: Any, request: dict[str, Any], folder: Path, job_name: str) -> JobResult:
    container = Container(folder)
    inputs = 0
    for item in request.get("ProcessingInputs", []):
        source = item.get("S3Input")
        if not source:
            raise JobFailed(f"input {item.get('InputName')}: only S3Input runs locally")
        if source.get("S3DataType", "S3Prefix") != "S3Prefix" or source.get("S3InputMode", "File") != "File":
            raise JobFailed(f"input {item.get('InputName')}: only S3Prefix inputs in File mode run locally")
        target = container.path(source["LocalPath"])
        target.mkdir(parents=True, exist_ok=True)
        inputs += download(s3, source["S3Uri"], target)
    config = request.get("ProcessingOutputConfig", {})
    outputs = {
        item["OutputName"]: item["S3Output"] for item in config.get("Outputs", []) if "S3Output" in item
    }
    local = {name: container.path(output["LocalPath"]) for name, output in outputs.items()}
    for path in local.values():
        path.mkdir(parents=True, exist_ok=True)
    app = request.get("AppSpecification", {})
    command = [
        container.translate(part)
        for part in [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
    ]
    if not command:
        raise JobFailed("no ContainerEntrypoint: the image's own entry point cannot run locally")
    isolated = bool(request.get("NetworkConfig", {}).get("EnableNetworkIsolation"))
    env = container.environment(
        {k: str(v) for k, v in request.get("Environment", {}).items()}, isolated=isolated
    )
    timeout = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    container.run(_python(command), env, cwd=folder, timeout=timeout)
    uploaded = sum(
        upload_folder(s3, local[name], output["S3Uri"], config.get("KmsKeyId"))
        for name, output in outputs.items()
    )
    properties = {
        **request,
        "ProcessingJobName": job_name,
        "ProcessingJobStatus": "Completed",
    }
    return JobResult(properties, f"{inputs} file(s) in, {uploaded} out", local)


def run_training(s3: Any, request: dict[str, Any], folder: Path, job_name: str) -> JobResult:
    container = Container(folder)
    hyperparameters = {key: str(value) for key, value in request.get("HyperParameters", {}).items()}
    program = hyperparameters.get("sagemaker_program")
    if not program:
        raise JobFailed("no sagemaker_program hyperparameter: the image's own algorithm cannot run locally")
    channels: dict[str, Path] = {}
    for channel in request.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource")
        if not source or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobFailed(f"channel {name}: only S3Prefix S3 data sources run locally")
        channels[name] = container.path(f"{CONTAINER_ROOT}/input/data/{name}")
        channels[name].mkdir(parents=True, exist_ok=True)
        download(s3, source["S3Uri"], channels[name])
    config_dir = container.path(f"{CONTAINER_ROOT}/input/config")
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=2))
    input_config = {
        c["ChannelName"]: {k: v for k, v in c.items() if k != "DataSource"}
        for c in request.get("InputDataConfig", [])
    }
    (config_dir / "inputdataconfig.json").write_text(json.dumps(input_config, indent=2))
    (config_dir / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    model_dir = container.path(f"{CONTAINER_ROOT}/model")
    output_data = container.path(f"{CONTAINER_ROOT}/output/data")
    model_dir.mkdir(parents=True, exist_ok=True)
    output_data.mkdir(parents=True, exist_ok=True)
    user = {key: value for key, value in hyperparameters.items() if not key.startswith("sagemaker_")}
    env = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_data),
        "SM_OUTPUT_DIR": str(container.path(f"{CONTAINER_ROOT}/output")),
        "SM_INPUT_DIR": str(container.path(f"{CONTAINER_ROOT}/input")),
        "SM_INPUT_CONFIG_DIR": str(config_dir),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(user),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        **{f"SM_CHANNEL_{name.upper()}": str(path) for name, path in channels.items()},
        **{f"SM_HP_{name.upper()}": value for name, value in user.items()},
    }
    submit = container.path(hyperparameters.get("sagemaker_submit_directory", f"{CONTAINER_ROOT}/code"))
    script = submit / program
    if not script.is_file():
        raise JobFailed(
            f"sagemaker_program {program} not found in {hyperparameters.get('sagemaker_submit_directory')}"
        )
    arguments = [part for name, value in sorted(user.items()) for part in (f"--{name}", value)]
    isolated = bool(request.get("EnableNetworkIsolation"))
    timeout = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    output = container.run(
        [sys.executable, str(script), *arguments],
        container.environment(
            {**env, **{k: str(v) for k, v in request.get("Environment", {}).items()}}, isolated=isolated
        ),
        cwd=submit,
        timeout=timeout,
    )
    metrics = _metrics(output, request.get("AlgorithmSpecification", {}).get("MetricDefinitions", []))
    destination = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job_name}/output"
    kms = request["OutputDataConfig"].get("KmsKeyId")
    upload_file(s3, _pack(model_dir, folder / "model.tar.gz"), f"{destination}/model.tar.gz", kms)
    if any(output_data.iterdir()):
        upload_file(s3, _pack(output_data, folder / "output.tar.gz"), f"{destination}/output.tar.gz", kms)
    properties = {
        **request,
        "TrainingJobName": job_name,
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": f"{destination}/model.tar.gz"},
        "FinalMetricDataList": [{"MetricName": name, "Value": value} for name, value in metrics.items()],
    }
    said = ", ".join(f"{name}={value:g}" for name, value in metrics.items())
    return JobResult(properties, f"model.tar.gz at {destination}/" + (f"; {said}" if said else ""))


def _pack(folder: Path, archive: Path) -> Path:
    """What SageMaker does with /opt/ml/model: one gzip tar of its contents, relative names."""
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(folder.rglob("*")):
            tar.add(item, arcname=item.relative_to(folder).as_posix(), recursive=False)
    return archive


def _metrics(output: str, definitions: list[dict[str, str]]) -> dict[str, float]:
    """The last value each MetricDefinitions regex matched, as the training job would record it."""
    found: dict[str, float] = {}
    for definition in definitions:
        for match in re.finditer(definition["Regex"], output):
            try:
                found[definition["Name"]] = float(match.group(1))
            except (IndexError, ValueError):
                continue
    return found


def run_transform(
    s3: Any, model: dict[str, Any], request: dict[str, Any], folder: Path, job_name: str
) -> JobResult:
    """Batch transform with the model's own inference handlers (``transform_driver``).

    ``model`` is the serving container: its ``ModelDataUrl`` and ``Environment``
    (``SAGEMAKER_PROGRAM``, ``SAGEMAKER_SUBMIT_DIRECTORY``), as ``DescribeModel`` or the model
    package it names give them.
    """
    container = Container(folder)
    environment = {key: str(value) for key, value in model.get("Environment", {}).items()}
    program = environment.get("SAGEMAKER_PROGRAM")
    if not model.get("ModelDataUrl") or not program:
        raise JobFailed(
            "the model has no ModelDataUrl or SAGEMAKER_PROGRAM: its image's own server cannot run locally"
        )
    model_dir = container.path(f"{CONTAINER_ROOT}/model")
    model_dir.mkdir(parents=True, exist_ok=True)
    archive = folder / "model.tar.gz"
    bucket, key = split_s3(model["ModelDataUrl"])
    s3.download_file(bucket, key, str(archive))
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    code = container.path(environment.get("SAGEMAKER_SUBMIT_DIRECTORY", f"{CONTAINER_ROOT}/model/code"))
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise JobFailed("only S3Prefix transform inputs run locally")
    inputs, outputs = container.path("/local/transform/input"), container.path("/local/transform/output")
    files = download(s3, source["S3Uri"], inputs)
    settings = request["TransformInput"]
    output = request["TransformOutput"]
    command = [
        sys.executable,
        str(Path(__file__).with_name("transform_driver.py")),
        *("--model-dir", str(model_dir), "--program", str(code / program)),
        *("--input-dir", str(inputs), "--output-dir", str(outputs)),
        *(
            "--content-type",
            settings.get("ContentType", "text/csv"),
            "--accept",
            output.get("Accept", "text/csv"),
        ),
        *(
            "--split-type",
            settings.get("SplitType", "None"),
            "--strategy",
            request.get("BatchStrategy", "MultiRecord"),
        ),
        *("--max-payload-mb", str(request.get("MaxPayloadInMB", 6))),
        *("--assemble-with", output.get("AssembleWith", "None")),
    ]
    said = container.run(command, container.environment(environment, isolated=True), cwd=folder, timeout=None)
    uploaded = upload_folder(s3, outputs, output["S3OutputPath"], output.get("KmsKeyId"))
    properties = {**request, "TransformJobName": job_name, "TransformJobStatus": "Completed"}
    last = said.strip().splitlines()[-1] if said.strip() else ""
    return JobResult(properties, f"{files} file(s) in, {uploaded} .out at {output['S3OutputPath']}; {last}")
