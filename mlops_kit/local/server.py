"""The embedded AWS: a moto server on 127.0.0.1 that the local deploy talks to.

``EmbeddedAws`` owns exactly one child process. It picks a free port, starts ``moto_server`` from
the running interpreter's environment, waits until the server answers HTTP, and hands out the
endpoint and the environment (fake credentials, region, ``AWS_ENDPOINT_URL``) that point boto3,
the AWS CLI and the CDK CLI at it. On exit it terminates the server (then kills it after a grace
period), also when the block raises, on Ctrl-C, and on SIGTERM (turned into ``SystemExit`` while
the block runs in the main thread). ``keep=True`` leaves the server running and ``keep_message``
says how to reach and stop it.

The server is moto's own, started through ``moto_shims`` (``python -m mlops_kit.local.moto_shims``),
which patches, inside the server process, the moto gaps the deploy flow meets (each named in
``moto_shims.SHIMS``); once it answers, ``POST /moto-api/config`` switches state machine
execution on (``EXECUTION_CONFIG``), so Step Functions executions run their tasks.

The server runs in its own session so that a Ctrl-C in the terminal reaches only the CLI, which
then stops the server in an orderly way (or leaves it, with ``keep=True``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class EmbeddedAwsError(RuntimeError):
    """The embedded AWS could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def aws_environment(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """The variables that send boto3, the AWS CLI and the CDK CLI to ``endpoint`` with fake credentials."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        # Keep the SDKs from reading a developer's real profile or instance metadata.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _moto_command(host: str, port: int) -> list[str]:
    # moto's server with the kit's shims installed in its process (``moto_shims``), so the
    # deploy flow executes: same arguments as ``moto_server``.
    return [sys.executable, "-m", "mlops_kit.local.moto_shims", "-H", host, "-p", str(port)]


# moto's Step Functions runs executions only with this config (POST /moto-api/config).
EXECUTION_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


def _server_environment() -> dict[str, str]:
    """The server inherits this process's environment, with the kit's package importable."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


@dataclass
class EmbeddedAws:
    """A moto server on 127.0.0.1 for the duration of a ``with`` block.

    Args:
        host: the address to listen on; only loopback is sensible, as the server has no auth.
        port: a fixed port; by default a free one is chosen.
        region: the region written into ``env``.
        keep: leave the server running after the block and print how to use and stop it.
        log_file: where the server's own output goes; by default it is discarded.
        startup_timeout: seconds to wait for the server to answer before giving up.
    """

    host: str = "127.0.0.1"
    port: int | None = None
    region: str = DEFAULT_REGION
    keep: bool = False
    log_file: Path | None = None
    startup_timeout: float = 30.0
    account_id: str = DEFAULT_ACCOUNT
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _previous_sigterm: Any = field(default=None, init=False, repr=False)
    _log_handle: Any = field(default=None, init=False, repr=False)

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> EmbeddedAws:
        """Start the server and wait until it answers; raise ``EmbeddedAwsError`` otherwise."""
        if self.process is not None:
            raise EmbeddedAwsError("this EmbeddedAws is already running; use one instance per server")
        if self.port is None:
            self.port = free_port(self.host)
        elif not _port_is_free(self.host, self.port):
            # Checked first: otherwise the readiness probe would find whatever answers there.
            raise EmbeddedAwsError(f"port {self.port} on {self.host} is in use; choose another or omit it")
        command = _moto_command(self.host, self.port)
        if self.log_file is not None:
            self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
            output: Any = self._log_handle
        else:
            output = subprocess.DEVNULL
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_server_environment(),
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/moto-api/"
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise EmbeddedAwsError(
                    f"moto_server exited with code {code} before answering on {self.endpoint}; "
                    f"run `{' '.join(_moto_command(self.host, self.port or 0))}` to see why"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        self._configure()
                        return
            except (urllib.error.URLError, OSError) as error:
                last_error = str(error)
            time.sleep(0.1)
        raise EmbeddedAwsError(
            f"moto_server did not answer on {self.endpoint} within {self.startup_timeout:.0f} s ({last_error})"
        )

    def _configure(self) -> None:
        """Switch state machine execution on (moto only records executions by default)."""
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/config",
            data=json.dumps(EXECUTION_CONFIG).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            if response.status not in (200, 201):
                raise EmbeddedAwsError(f"moto refused its config at {self.endpoint}/moto-api/config: {response.status}")

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the server, then kill it if it is still alive after ``grace`` seconds."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=grace)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def detach(self) -> None:
        """Forget the process without stopping it (what ``keep=True`` does on exit)."""
        self.process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> EmbeddedAws:
        self._install_sigterm_handler()
        try:
            return self.start()
        except BaseException:
            self._restore_sigterm_handler()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        interrupted = exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit))
        try:
            # --keep survives a failed deploy (to look around) but not Ctrl-C or SIGTERM.
            if self.keep and not interrupted and self.is_running():
                self.detach()
            else:
                self.stop()
        finally:
            self._restore_sigterm_handler()

    def _install_sigterm_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def _on_sigterm(signum: int, frame: types.FrameType | None) -> None:
            raise SystemExit(128 + signum)

        self._previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)

    def _restore_sigterm_handler(self) -> None:
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    # -- what callers need ------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self.port is None:
            raise EmbeddedAwsError("the server has no port yet; start it first")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while this object owns it."""
        return self.process.pid if self.process is not None else None

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point boto3, the AWS CLI and the CDK CLI at the server."""
        return aws_environment(self.endpoint, self.region)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client bound to the server (no global environment needed)."""
        return AwsEndpoint(self.endpoint, self.region, self.account_id).client(service, **kwargs)

    def keep_message(self, pid: int | None = None) -> str:
        """What to print when the server is left running: endpoint, pid, exports, how to stop it."""
        pid = pid if pid is not None else self.pid
        lines = [
            f"The embedded AWS keeps running at {self.endpoint} (pid {pid}).",
            "Point boto3, the AWS CLI or the CDK CLI at it with:",
        ]
        lines += [f"  export {name}={value}" for name, value in self.env.items()]
        lines.append(f"Stop it with: kill {pid}")
        return "\n".join(lines)


@contextlib.contextmanager
def embedded_aws(keep: bool = False, stream: TextIO | None = None, **kwargs: Any) -> Iterator[EmbeddedAws]:
    """``with embedded_aws() as aws:`` -- ``EmbeddedAws`` that also prints the keep message."""
    server = EmbeddedAws(keep=keep, **kwargs)
    with server:
        pid = server.pid
        yield server
    if keep and stream is not None and pid is not None:
        print(server.keep_message(pid), file=stream)


def environment_for(
    endpoint: str, base: Mapping[str, str] | None = None, region: str = DEFAULT_REGION
) -> dict[str, str]:
    """``base`` (default: ``os.environ``) with the embedded endpoint and fake credentials laid over it."""
    env = dict(os.environ if base is None else base)
    # A real profile or SSO session must never win over the fake credentials.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        env.pop(name, None)
    env.update(aws_environment(endpoint, region))
    return env


@dataclass(frozen=True)
class AwsEndpoint:
    """An embedded AWS that is already running (``--keep`` from an earlier run, or a test's)."""

    endpoint: str
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT

    @property
    def env(self) -> dict[str, str]:
        return aws_environment(self.endpoint, self.region)

    def client(self, service: str, **kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=120
            ),
            **kwargs,
        )
