"""Setting a user's web password and second factor from the command line (another process
than the gateway; the running gateway sees the change at the next request)."""

from __future__ import annotations

from pathlib import Path

from gateway.audit.leaves import check_user_name
from gateway.node.config import load_config
from gateway.node.home import _store_call
from gateway.node.webauth import hash_password, new_totp_secret, seal_totp, totp_uri, web_key
from gateway.store.web import WebStore

__all__ = ["end_web_sessions", "enrol_totp", "set_web_password"]


def set_web_password(home: Path, name: str, password: str) -> None:
    """Set or reset ``name``'s web password (its sessions end)."""
    check_user_name(name)
    hashed = hash_password(password)
    _store_call(home, lambda st, now: WebStore(st).set_password(name, hashed, now))


def enrol_totp(home: Path, name: str) -> tuple[str, str]:
    """A new TOTP second factor for ``name`` (its sessions end): (secret, otpauth URI), to
    be shown once to the user and never stored in clear."""
    check_user_name(name)
    secret = new_totp_secret()
    sealed = seal_totp(web_key(home), name, secret)
    _store_call(home, lambda st, now: WebStore(st).set_totp(name, sealed, now))
    return secret, totp_uri(secret, name, load_config(home).office_id)


def end_web_sessions(home: Path, name: str) -> int:
    """End every web session of ``name`` at once; returns how many were live."""
    check_user_name(name)
    n: int = _store_call(home, lambda st, now: WebStore(st).end_sessions(name, now))
    return n
