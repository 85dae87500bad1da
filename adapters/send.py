"""Sending a plan through the officer API, as any external program would.

Each item is one ``POST /api/v1/messages`` under its stable ``Idempotency-Key``
(``gateway.cli.client.OfficerClient``, which retries under that key when the connection
breaks or the gateway answers 503). ``workers`` threads send at once, each with its own
client, so that the gateway's group commit has company. An item already sent before (same
key, same request) is answered with its first message id and counted as such; under the
same key with other content the gateway refuses it (``IDEMPOTENCY_KEY_REUSED``) and it is
reported, not sent again. A fault that every later request would meet too (the gateway
unreachable after the client's retries, the token refused) stops the sending: what was not
sent is reported, and running the same import again sends only that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from adapters.plan import Item
from gateway.cli.client import OfficerClient
from gateway.protocol.errors import GatewayError, RemoteError

__all__ = ["Outcome", "send_items"]

#: Gateway answers that concern one message only: report it and go on with the others.
ITEM_CODES = frozenset({"IDEMPOTENCY_KEY_REUSED", "MALFORMED", "NOT_FOUND", "TOO_LARGE",
                        "CONFLICT", "BAD_IDEMPOTENCY_KEY"})


@dataclass
class Outcome:
    """What became of one item: its message id (and whether it had been sent before), or
    the code of what stopped it ("" for neither: not tried because sending stopped)."""

    item: Item
    message_id: str = ""
    replayed: bool = False
    code: str = ""

    @property
    def sent(self) -> bool:
        return bool(self.message_id)


def send_items(items: list[Item], make_client: Callable[[], OfficerClient],
               workers: int = 16) -> tuple[list[Outcome], GatewayError | None]:
    """Send every item; the outcomes in the items' order, and the fault that stopped the
    sending early, if one did."""
    outcomes = [Outcome(item) for item in items]
    stop = threading.Event()
    fault: list[GatewayError] = []
    local = threading.local()

    def one(outcome: Outcome) -> None:
        if stop.is_set():
            return
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = make_client()
        item = outcome.item
        try:
            answer = client.send(list(item.to), item.payload.to_dict(),
                                 idempotency_key=item.key)
        except RemoteError as e:
            if e.remote_code in ITEM_CODES:
                outcome.code = e.remote_code
                return
            fault.append(e)
            stop.set()
            return
        except GatewayError as e:
            fault.append(e)
            stop.set()
            return
        outcome.message_id = str(answer["message_id"])
        outcome.replayed = bool(answer.get("replayed"))

    with ThreadPoolExecutor(max_workers=max(1, workers),
                            thread_name_prefix="blo-import") as pool:
        list(pool.map(one, outcomes))
    return outcomes, (fault[0] if fault else None)
