"""``init`` (a gateway home for one office) and ``config check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.protocol.identity import Keyring, TrustRoots

if TYPE_CHECKING:
    pass

__all__ = ["cmd_config_check", "cmd_init"]


def cmd_init(a: argparse.Namespace) -> int:
    from gateway.node.home import init_home

    peer_urls = dict(p.split("=", 1) for p in a.peer_url or [])
    cfg = init_home(Path(a.home), keyring=Keyring.load(Path(a.keyring)),
                    directory=Path(a.directory).read_bytes(), roots=TrustRoots.load(
                        Path(a.roots)), peer_port=a.peer_port, api_port=a.api_port,
                    peer_urls=peer_urls)
    print(f"gateway for {cfg.office_id} initialised in {a.home}; edit {a.home}/gateway.toml, "
          f"add users (blo-gateway users add), then blo-gateway serve --home {a.home}")
    return 0


def cmd_config_check(a: argparse.Namespace) -> int:
    from gateway.node.config import FILE_SETTINGS, config_problems, load_config

    home = Path(a.home)
    problems = config_problems(home)
    if not problems:
        cfg = load_config(home)
        for key in FILE_SETTINGS:
            value = getattr(cfg, key)
            if value and not cfg.path(value).is_file():
                problems.append(f"{home / 'gateway.toml'}: {key} = {value!r}: "
                                f"no such file {cfg.path(value)}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{home / 'gateway.toml'}: ok")
    return 0
