"""``migrate``: bring a gateway's database schema to this code's revision.

``serve`` refuses a database older or newer than the code (``SCHEMA_MISMATCH``); an
operator backs the database up, stops the gateway, runs this, and starts it again. With
``--check`` nothing is changed: exit 0 if the schema is current, 1 if it needs migrating.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["cmd_migrate"]


def cmd_migrate(a: argparse.Namespace) -> int:
    from gateway.node.config import load_config
    from gateway.node.home import sqlite_path
    from gateway.store import make_engine, prepare_schema, schema_revision

    cfg = load_config(Path(a.home))
    db = sqlite_path(cfg)
    if db is not None and not db.exists():
        if a.check:
            print(f"{db}: no database yet (serve creates it)")
            return 1
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        before, head, empty = schema_revision(engine)
        if a.check:
            state = "current" if before == head else ("empty" if empty else "needs migrating")
            print(f"schema revision {before or 'none'}; this code: {head} ({state})")
            return 0 if before == head else 1
        outcome = prepare_schema(engine, upgrade=True)
    finally:
        engine.dispose()
    print(f"schema revision {before or 'none'} -> {head} ({outcome})")
    return 0
