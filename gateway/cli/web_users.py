"""Setting a user's web password and second factor from the command line (another process
than the gateway; the running gateway sees the change at the next request)."""

from __future__ import annotations

from pathlib import Path

from gateway.audit.leaves import check_user_name
from gateway.node.config import load_config
from gateway.node.home import _store_call
from gateway.node.webauth import (
    hash_password,
    new_totp_secret,
    open_totp,
    seal_totp,
    totp_uri,
    web_key,
)
from gateway.protocol.errors import ConfigError, NotFound
from gateway.store.web import WebStore

__all__ = ["DEMO_MARK", "current_totp_code", "end_web_sessions", "enrol_totp",
           "mark_demo_home", "set_web_password"]

#: A demo's home holds this file (written by ``blo-gateway demo``): only there does
#: ``current_totp_code`` open a user's second factor.
DEMO_MARK = "private/demo-home"


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


def mark_demo_home(home: Path) -> None:
    """Mark ``home`` as a demo's (throw-away keys, invented data)."""
    (home / DEMO_MARK).write_text("made by blo-gateway demo: throw-away keys and users\n",
                                  encoding="utf-8")


def current_totp_code(home: Path, name: str, now_s: float | None = None) -> str:
    """The current TOTP code of ``name`` — in a demo's home only (``DEMO_MARK``): anywhere
    else a second factor must stay on the user's own device, and this refuses."""
    import time

    import pyotp

    check_user_name(name)
    if not (home / DEMO_MARK).is_file():
        raise ConfigError(f"{home} is not a demo's home: a user's code comes from the user's "
                          "authenticator app only")
    cred = _store_call(home, lambda st, _: WebStore(st).credentials(name), write=False)
    if cred is None or cred["totp_sealed"] is None:
        raise NotFound(f"user {name} has no second factor enrolled")
    secret = open_totp(web_key(home), name, cred["totp_sealed"])
    return str(pyotp.TOTP(secret).at(int(time.time() if now_s is None else now_s)))
