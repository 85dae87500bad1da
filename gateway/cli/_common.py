"""What the verbs share: the clock, the directory, the officer API client, JSON out."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from gateway.protocol.identity import Directory, TrustRoots
from gateway.protocol.localtime import UTC_ZONE, zone_named

if TYPE_CHECKING:
    from gateway.cli.client import OfficerClient

__all__: list[str] = []  # helpers of the verbs' modules only

DAY_MS = 24 * 3600 * 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _load_directory(path: Path, roots: Path) -> Directory:
    return Directory.verify(path.read_bytes(), TrustRoots.load(roots), now_ms=_now_ms())


def _office_names(d: Directory) -> dict[str, tuple[str, str]]:
    return {o.office_id: (o.name_vi, o.name_zh) for o in d.offices.values()}


def _client(a: argparse.Namespace) -> OfficerClient:
    from gateway.cli.client import OfficerClient

    return OfficerClient.connect(home=a.home, user=a.user, api=a.api, token_file=a.token_file)


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _zone_of(data: dict[str, object]) -> ZoneInfo:
    """The gateway office's zone, as its API names it (times print in it, zone named)."""
    name = data.get("time_zone")
    return zone_named(name) if isinstance(name, str) and name else UTC_ZONE
