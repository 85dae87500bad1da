"""A gateway's home folder: ``gateway.toml``, the directory and roots, ``private/`` (0700).

    home/
      gateway.toml          settings (see gateway/config.py)
      directory.bin         the co-signed trust directory
      roots.json            the pinned VN and CN root keys
      gateway.db            the SQLite store (default)
      private/keyring.json  the office's private keys (0600)
      private/tokens/*.token  officer API tokens (0600), one per user
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import nacl.utils

from gateway.config import Config, load_config, render_config
from gateway.errors import ConfigError
from gateway.identity import Keyring, TrustRoots, write_private
from gateway.officer_api import ROLES
from gateway.store import Store, make_engine, migrate

__all__ = ["add_user", "init_home"]


def init_home(home: Path, *, keyring: Keyring, directory: bytes, roots: TrustRoots,
              **settings: Any) -> Config:
    """Create a home folder for ``keyring``'s office; ``settings`` override config defaults."""
    if (home / "gateway.toml").exists():
        raise ConfigError(f"{home} already holds a gateway")
    home.mkdir(parents=True, exist_ok=True)
    (home / "private").mkdir(mode=0o700, exist_ok=True)
    os.chmod(home / "private", 0o700)
    keyring.save(home / "private" / "keyring.json")
    (home / "directory.bin").write_bytes(directory)
    (home / "roots.json").write_text(roots.to_json(), encoding="utf-8")
    cfg = Config(home=home.resolve(), office_id=keyring.office_id, **settings)
    (home / "gateway.toml").write_text(render_config(cfg), encoding="utf-8")
    return load_config(home)


def add_user(home: Path, name: str, role: str) -> Path:
    """Create an officer API user; the token goes to private/tokens/<name>.token (0600)."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}")
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 64:
        raise ConfigError("user names are letters, digits, '.', '-' and '_'")
    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    migrate(engine)
    token = base64.urlsafe_b64encode(nacl.utils.random(32)).decode("ascii").rstrip("=")
    Store(engine).add_user(name, role, token, int(time.time() * 1000))
    engine.dispose()
    path = home / "private" / "tokens" / f"{name}.token"
    write_private(path, token + "\n")
    return path
