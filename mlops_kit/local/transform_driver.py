"""Batch transform inside a local stand-in of the serving container; run as a script, standard library only.

The SageMaker framework serving containers load ``SAGEMAKER_PROGRAM`` from
``SAGEMAKER_SUBMIT_DIRECTORY`` and answer each request with ``model_fn`` (once), then
``input_fn``, ``predict_fn`` and ``output_fn``. Batch transform sends each input file to the
container split by ``SplitType`` (``Line``: one record a line) and, with the ``MultiRecord``
strategy, as many records a request as fit in ``MaxPayloadInMB``; it writes ``<file>.out`` per
input file, the answers joined by ``AssembleWith`` (``Line``: a newline)
(https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any


def batches(body: bytes, split_type: str, strategy: str, max_bytes: int) -> list[bytes]:
    if split_type != "Line":
        return [body]
    records = [line + b"\n" for line in body.splitlines() if line.strip()]
    if strategy == "SingleRecord":
        return records
    grouped: list[bytes] = []
    current = b""
    for record in records:
        if current and len(current) + len(record) > max_bytes:
            grouped.append(current)
            current = b""
        current += record
    return [*grouped, current] if current else grouped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a model's inference handlers over input files.")
    for name in ("model-dir", "program", "input-dir", "output-dir"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--content-type", default="text/csv")
    parser.add_argument("--accept", default="text/csv")
    parser.add_argument("--split-type", default="None")
    parser.add_argument("--strategy", default="MultiRecord")
    parser.add_argument("--max-payload-mb", type=int, default=6)
    parser.add_argument("--assemble-with", default="None")
    args = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("inference", args.program)
    if spec is None or spec.loader is None:
        print(f"transform: cannot load {args.program}", file=sys.stderr)
        return 2
    handlers: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    missing = [
        name for name in ("model_fn", "input_fn", "predict_fn", "output_fn") if not hasattr(handlers, name)
    ]
    if missing:
        print(f"transform: {args.program} defines no {', '.join(missing)}", file=sys.stderr)
        return 2
    model = handlers.model_fn(args.model_dir)
    source, target = Path(args.input_dir), Path(args.output_dir)
    files = sorted(path for path in source.rglob("*") if path.is_file())
    records = 0
    for path in files:
        answers = []
        for batch in batches(
            path.read_bytes(), args.split_type, args.strategy, args.max_payload_mb * 1024 * 1024
        ):
            prediction = handlers.predict_fn(handlers.input_fn(batch, args.content_type), model)
            answers.append(str(handlers.output_fn(prediction, args.accept)))
            records += len(prediction)
        out = target / f"{path.relative_to(source).as_posix()}.out"
        out.parent.mkdir(parents=True, exist_ok=True)
        joined = (
            "\n".join(a.rstrip("\n") for a in answers) + "\n"
            if args.assemble_with == "Line"
            else "".join(answers)
        )
        out.write_text(joined, encoding="utf-8")
    print(f"transform: {len(files)} file(s), {records} record(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
