"""The embedded server's life cycle: it answers, and it is gone after the block, whatever happened."""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest

from mlops_kit.local import EmbeddedAws, EmbeddedAwsError

pytestmark = pytest.mark.integration


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still "exists"; the server is reaped by Popen.wait in stop(), so this is enough.
    return True


def test_server_answers_and_stops_after_the_block() -> None:
    with EmbeddedAws() as aws:
        pid, endpoint = aws.pid, aws.endpoint
        assert endpoint.startswith("http://127.0.0.1:")
        assert _answers(endpoint)
        assert aws.env["AWS_ENDPOINT_URL"] == endpoint and aws.env["AWS_ACCESS_KEY_ID"] == "testing"
        assert aws.client("s3").list_buckets()["Buckets"] == []
    assert pid is not None and not _alive(pid)
    assert not _answers(endpoint)


def test_server_stops_when_the_block_raises() -> None:
    server = EmbeddedAws()
    with pytest.raises(RuntimeError, match="boom"), server:
        pid = server.pid
        raise RuntimeError("boom")
    assert pid is not None and not _alive(pid)


def test_server_stops_on_ctrl_c_even_with_keep() -> None:
    server = EmbeddedAws(keep=True)
    with pytest.raises(KeyboardInterrupt), server:
        pid = server.pid
        raise KeyboardInterrupt
    assert pid is not None and not _alive(pid)


def test_keep_leaves_the_server_running_and_says_how_to_use_it() -> None:
    server = EmbeddedAws(keep=True)
    with server:
        pid, endpoint = server.pid, server.endpoint
        message = server.keep_message()
    try:
        assert pid is not None and _alive(pid) and _answers(endpoint)
        assert f"export AWS_ENDPOINT_URL={endpoint}" in message and f"kill {pid}" in message
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)


def test_fails_if_the_port_is_taken() -> None:
    with EmbeddedAws() as first, pytest.raises(EmbeddedAwsError, match="in use"):  # noqa: SIM117
        with EmbeddedAws(port=first.port, startup_timeout=10):
            pass
