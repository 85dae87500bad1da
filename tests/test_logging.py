"""Everything that reaches the log passes the redaction: aiohttp's own loggers and the
standard library's included. A client's malformed request is one line with a code."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from harness import Pair

import gateway
from gateway.cli.client import OfficerClient
from gateway.cli.demo import GatewayProcess
from gateway.protocol.scenario import LAOCAI


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_token_in_a_malformed_request_never_reaches_the_log(tmp_path):
    pair = Pair(tmp_path, "sqlite")
    home = pair.homes[LAOCAI]
    token = pair.tokens[LAOCAI]["officer"]
    proc = GatewayProcess(home)
    proc.start()
    try:
        proc.wait_healthy(OfficerClient(pair.api(LAOCAI), token))
        t = token.encode()
        bad = [
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + t +
            b"\x01\r\n\r\n",
            b"GET /api/v1/inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + t +
            b"\r\nX-Note: \x7f" + t + b"\r\n\r\n",
            b"GET /api/v1/inbox?t=" + t + b" HTTP/1.1\x01\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name" + t + b": 1\r\n\r\n",
            b"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x" + t +
            b"\r\n\r\n",
        ]
        for port in pair.ports[LAOCAI]:  # the peer API and the officer API
            for data in bad:
                assert _raw(port, data).split(b" ")[1] == b"400"
        proc.wait_healthy(OfficerClient(pair.api(LAOCAI), token))
    finally:
        proc.stop()
    log = (home / "gateway.log").read_text(encoding="utf-8")
    assert token not in log
    assert "Traceback" not in log
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    bad_lines = [e for e in events if e["event"] == "http_bad_request"]
    assert len(bad_lines) == 2 * len(bad)
    assert all(e["code"] == "MALFORMED" and set(e) <= {
        "event", "code", "logger", "error", "where", "level", "timestamp", "suppressed_before"}
        for e in bad_lines)


def test_stdlib_records_are_redacted_one_line_each(tmp_path):
    script = textwrap.dedent("""
        import logging
        from gateway.node.logs import configure_logging
        configure_logging("info")
        logging.getLogger("sqlalchemy.pool").warning(
            "connect failed: Authorization: Bearer %s password=%s", "TOKEN123", "PW456")
        try:
            {}["SECRET789"]
        except KeyError:
            logging.getLogger("asyncio").exception("Task exception was never retrieved")
        logging.getLogger("aiohttp.server").error("Error handling %s", "TOKEN123")
        logging.getLogger("chatty").debug("below the level")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       check=True, cwd=Path(gateway.__file__).parent.parent)
    # One JSON line per record; anything else the interpreter may print on stderr (a warning
    # from an import on a loaded machine) is not a log record, and is still searched below.
    lines = [x for x in r.stderr.strip().splitlines() if x.startswith("{")]
    assert len(lines) == 3, r.stderr
    events = [json.loads(line) for line in lines]
    for secret in ("TOKEN123", "PW456", "SECRET789", "Traceback"):
        assert secret not in r.stderr
    assert events[0]["event"] == "stdlib_log" and "[redacted]" in events[0]["message"]
    assert events[1]["error"] == "KeyError" and events[1]["where"].startswith("<string>:")
    assert events[2]["event"] == "aiohttp_log" and "message" not in events[2]


def test_a_log_line_that_cannot_be_written_never_raises_into_the_caller():
    """The disk under the log is full (or the journal's pipe closed): the line is dropped
    and counted, the caller (a request, a delivery worker) goes on."""
    import errno

    import structlog

    from gateway.node.logs import LogStream, configure_logging, get_logger

    class Full:
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    try:
        configure_logging(stream=Full())
        get_logger("t").info("delivered", count=1)  # must not raise
        get_logger("t").error("delivery_loop_error", error="StorageFull")
        stream = structlog.get_config()["logger_factory"]._file
        assert isinstance(stream, LogStream) and stream.dropped >= 2
    finally:
        configure_logging()
