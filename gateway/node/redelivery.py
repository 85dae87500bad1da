"""Re-delivery after a restore: the restored gateway asks each peer to send again what the
lost gateway had received (and receipted) after the backup.

A restore rolls a gateway back to its backup; the peer still holds what it delivered
since, marked delivered with our old receipts, and would never send it again. So
``blo-gateway restore`` leaves ``redeliver.json`` in the home (the backup's time less the
allowed clock skew, in ms). At start the gateway sends every peer a signed
``POST /peer/v1/redeliver`` (``{"since_ms": N}``, docs/wire-format.md §11); the peer queues
again each message it delivered to us since then that has not expired or been shredded,
and answers ``{"requeued": n}``. We take each message id once, so what we still hold comes
back as a duplicate (the stored receipt is answered) and nothing is shown twice; what we
had lost is stored and receipted anew. Each answer is an audit event on both sides
(``redelivery.asked`` here, ``redelivery.requested`` there). The file is rewritten with
the peers done and removed when all are; a peer that does not know the route (404: an
older release) raises a ``redelivery_unsupported`` alert, and the runbook says to ask that
office to re-send by hand. Unreachable peers are asked again every ``RETRY_S``, and so
are suite-2 peers whose answer to the version-2 request is not signed by them (§15).

The route is additive and optional: version-1 peers without it keep working.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp

from gateway.audit.notes import log_origin
from gateway.node.delivery import read_answer
from gateway.node.logs import get_logger
from gateway.node.ports import RedeliveryHost
from gateway.protocol import peerrequest
from gateway.protocol.errors import GatewayError, Malformed, PayloadTooLarge

__all__ = ["MARKER", "PATH", "ask_peers", "parse_request", "write_marker"]

log = get_logger("redelivery")
PATH = "/peer/v1/redeliver"
#: In the home: what is left to ask after a restore ({"since_ms", "done": [offices]}).
MARKER = "redeliver.json"
RETRY_S = 5.0


def write_marker(home: Path, since_ms: int) -> Path:
    """Written by ``restore``: ask every peer for what it delivered since ``since_ms``."""
    path = home / MARKER
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"since_ms": since_ms, "done": []}, f)
    return path


def parse_request(body: bytes, now_ms: int) -> int:
    """The ``since_ms`` of a re-delivery request (strict: one small JSON object)."""
    if len(body) > 256:
        raise Malformed("re-delivery request over 256 bytes")
    try:
        data: Any = json.loads(body)
    except ValueError as e:
        raise Malformed("re-delivery request is not JSON") from e
    if not isinstance(data, dict) or set(data) != {"since_ms"}:
        raise Malformed('re-delivery request must be {"since_ms": <ms>}')
    since = data["since_ms"]
    if not isinstance(since, int) or isinstance(since, bool) or not 0 <= since <= now_ms:
        raise Malformed("since_ms must be a time in ms, not in the future")
    return since


async def _ask(gw: RedeliveryHost, peer: str, url: str, since_ms: int) -> bool:
    """Ask one peer; True when it is done with (answered, or will never answer)."""
    body = json.dumps({"since_ms": since_ms}).encode()
    req = peerrequest.sign(gw.keyring, gw.directory, method="POST", path_qs=PATH,
                           destination=peer, body=body, now_ms=gw.clock.now_ms())
    headers = {**req.headers, "Content-Type": "application/json"}
    try:
        async with gw.http.post(url + PATH, data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=30)) as resp:
            status, raw = resp.status, await read_answer(resp)
            answer_headers = resp.headers.copy()
        text = raw.decode("utf-8", "replace")
    except (aiohttp.ClientError, TimeoutError, OSError, PayloadTooLarge):
        return False
    now = gw.clock.now_ms()
    if req.version >= 2 and not peerrequest.answer_verified(
            req, status=status, headers=answer_headers, body=raw, directory=gw.directory,
            now_ms=now, max_skew_ms=gw.config.max_skew_ms):
        # Not signed by a suite-2 peer: it may not be its answer; ask again later.
        log.warning("redelivery_answer_unsigned", peer=peer, status=status)
        return False
    if status == 404:
        await gw.store.call(gw.store.sync.alert, log_origin(gw.office_id),
                            "redelivery_unsupported",
                            f"{peer} cannot re-send after our restore: ask that office to "
                            f"re-send what it delivered since {since_ms}", now)
        log.warning("redelivery_unsupported", peer=peer)
        return True
    try:
        count = int(json.loads(text)["requeued"]) if status == 200 else None
    except (ValueError, KeyError, TypeError, RecursionError):
        count = None
    if count is None:
        log.warning("redelivery_refused", peer=peer, status=status)
        return False
    await gw.store.call(gw.store.sync.audit, [{"t": now, "type": "redelivery.asked",
                                               "peer": peer, "since": since_ms,
                                               "count": count}])
    log.info("redelivery_asked", peer=peer, since_ms=since_ms, requeued=count)
    return True


async def ask_peers(gw: RedeliveryHost) -> None:
    """Work through ``redeliver.json`` until every peer has answered; then remove it."""
    path = gw.config.home / MARKER
    while True:
        try:
            marker = json.loads(path.read_text(encoding="utf-8"))
            since, done = int(marker["since_ms"]), set(marker.get("done", []))
        except FileNotFoundError:
            return
        except (ValueError, KeyError, TypeError):
            log.error("redelivery_marker_unreadable", file=str(path))
            return
        for peer, link in list(gw.deliveries.items()):
            if peer not in done:
                try:
                    if await _ask(gw, peer, link.url, since):
                        done.add(peer)
                except GatewayError as e:
                    log.error("redelivery_failed", peer=peer, code=e.code)
        if done >= set(gw.deliveries):
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"since_ms": since, "done": sorted(done)}, f)
        os.replace(tmp, path)
        await asyncio.sleep(RETRY_S)
