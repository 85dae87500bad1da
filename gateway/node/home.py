"""A gateway's home folder: ``gateway.toml``, the directory and roots, ``private/`` (0700).

The home is 0700 and everything in it is created for its owner only: a gateway refuses to
start when the home, ``private/``, the keyring or the SQLite database is open to group or
others (``secure_home``). Users are managed here, from another process than the running
gateway: after each change the command replaces ``private/users.stamp``, which the gateway
``stat``s on every request (``users_stamp``); when it changed, the gateway forgets the tokens
it had looked up, so a change counts from the next request on.

    home/
      gateway.toml          settings (see gateway/node/config.py)
      directory.bin         the co-signed trust directory
      roots.json            the pinned VN and CN root keys
      gateway.db            the SQLite store (default)
      gateway.db.lock       held by the one ``serve`` of a SQLite home (``lock_home``)
      private/keyring.json  the office's private keys (0600)
      private/tokens/*.token  officer API tokens (0600), one per user
      private/users.stamp   replaced by every users/tokens command (see below)
"""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import nacl.utils
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.audit.leaves import check_user_name
from gateway.node.config import Config, load_config, render_config
from gateway.protocol.errors import ConfigError, StorageError
from gateway.protocol.identity import Keyring, TrustRoots, write_private
from gateway.store import Store, make_engine, prepare_schema

__all__ = [
    "add_user",
    "audit_size",
    "init_home",
    "list_users",
    "lock_home",
    "remove_user",
    "revoke_token",
    "secure_home",
    "set_user_disabled",
    "sqlite_path",
    "token_path",
    "users_stamp",
    "witness_rebase",
]

T = TypeVar("T")


def init_home(home: Path, *, keyring: Keyring, directory: bytes, roots: TrustRoots,
              **settings: Any) -> Config:
    """Create a home folder for ``keyring``'s office; ``settings`` override config defaults."""
    if (home / "gateway.toml").exists():
        raise ConfigError(f"{home} already holds a gateway")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)  # the gateway refuses a home that group or others can open
    (home / "private").mkdir(mode=0o700, exist_ok=True)
    os.chmod(home / "private", 0o700)
    keyring.save(home / "private" / "keyring.json")
    (home / "directory.bin").write_bytes(directory)
    (home / "roots.json").write_text(roots.to_json(), encoding="utf-8")
    cfg = Config(home=home.resolve(), office_id=keyring.office_id, **settings)
    (home / "gateway.toml").write_text(render_config(cfg), encoding="utf-8")
    for name in ("directory.bin", "roots.json", "gateway.toml"):  # the toml may hold a DSN
        os.chmod(home / name, 0o600)
    return load_config(home)


def add_user(home: Path, name: str, role: str) -> Path:
    """Create an officer API user; the token goes to private/tokens/<name>.token (0600)."""
    from gateway.node.roles import ROLES  # imported here: the users commands stay quick

    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}")
    check_user_name(name)
    token = _new_token()
    _store_call(home, lambda st, now: st.add_user(name, role, token, now))
    path = token_path(home, name)
    _write_token(path, token)
    return path


def list_users(home: Path) -> list[dict[str, Any]]:
    """Name, role, created_at_ms and disabled_at_ms of every user."""
    users: list[dict[str, Any]] = _store_call(home, lambda st, _: st.list_users(), write=False)
    return users


def set_user_disabled(home: Path, name: str, disabled: bool) -> None:
    """Disable a user (its token fails at once, also on a running gateway) or enable it."""
    check_user_name(name)
    _store_call(home, lambda st, now: st.set_user_disabled(name, disabled, now))


def remove_user(home: Path, name: str) -> None:
    """Delete a user and its token file; its past actions stay in the audit log."""
    check_user_name(name)
    _store_call(home, lambda st, now: st.remove_user(name, now))
    token_path(home, name).unlink(missing_ok=True)


def revoke_token(home: Path, name: str, *, new: bool) -> Path | None:
    """Invalidate ``name``'s token at once; with ``new``, issue another (returns its file)."""
    check_user_name(name)
    path = token_path(home, name)
    if not new:
        _store_call(home, lambda st, now: st.replace_token(name, None, now))
        path.unlink(missing_ok=True)
        return None
    token = _new_token()
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    _write_token(tmp, token)
    try:
        _store_call(home, lambda st, now: st.replace_token(name, token, now))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def token_path(home: Path, name: str) -> Path:
    return home / "private" / "tokens" / f"{check_user_name(name)}.token"


def secure_home(cfg: Config) -> None:
    """Set a private umask (0o077) for this process and refuse to run if the home folder,
    ``private/``, the keyring or the SQLite database is open to group or others."""
    os.umask(0o077)
    paths = [cfg.home, cfg.home / "private", cfg.path(cfg.keyring)]
    db = sqlite_path(cfg)
    if db is not None:
        paths += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            fix = "chmod 700" if path.is_dir() else "chmod 600"
            raise ConfigError(f"{path} is open to group or others (mode {mode:o}); the gateway "
                              f"refuses to run so: {fix} {path}")


def sqlite_path(cfg: Config) -> Path | None:
    """The SQLite database file, or None (PostgreSQL, or an in-memory database)."""
    url = sa.engine.make_url(cfg.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return cfg.path(url.database)


def lock_home(cfg: Config) -> IO[bytes] | None:
    """On SQLite, hold ``<database>.lock`` exclusively for as long as the returned file is
    open: one ``serve`` per SQLite home (two processes would each cache the audit log's
    edge and fight for SQLite's single writer). A second one is refused with the fix.
    None on PostgreSQL, where several processes share a schema (``store.leases``)."""
    import fcntl

    db = sqlite_path(cfg)
    if db is None:
        return None
    f = open(db.with_name(db.name + ".lock"), "ab")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise ConfigError(f"another blo-gateway serve is already running on {db} (it holds "
                          f"{db.name}.lock): a SQLite home serves one process; stop the other "
                          "one, or move the gateway to PostgreSQL to run two (deploy/README.md)"
                          ) from None
    return f


def _new_token() -> str:
    return base64.urlsafe_b64encode(nacl.utils.random(32)).decode("ascii").rstrip("=")


def _write_token(path: Path, token: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, token + "\n")


USERS_STAMP = "private/users.stamp"


def users_stamp(cfg: Config) -> Callable[[], tuple[int, int, int] | None]:
    """A cheap probe (one ``stat``) that changes whenever a command of this module changed
    the users or appended to the audit log: the running gateway drops its token cache and
    re-reads the audit log's edge when it changes."""
    path = cfg.home / USERS_STAMP

    def probe() -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    return probe


def _touch_stamp(home: Path) -> None:
    """Replace the stamp file (a new inode, so the change shows whatever the clock does)."""
    path = home / USERS_STAMP
    tmp = path.with_name(f"{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(nacl.utils.random(8))
    os.replace(tmp, path)


def audit_size(home: Path) -> int:
    """The number of entries in the home's audit log."""
    return _store_call(home, lambda st, _: st.audit_head()[0], write=False)


def witness_rebase(home: Path, office: str, at_most: int) -> dict[str, Any]:
    """Hold ``office``'s restored log at the newest size of at most ``at_most`` that this
    gateway's witness cosigned (``Store.witness_rebase``; an audit leaf)."""
    from gateway.audit.notes import log_origin

    return _store_call(home, lambda st, now: st.witness_rebase(log_origin(office), at_most,
                                                               now))


def _store_call(home: Path, fn: Callable[[Store, int], T], *, write: bool = True) -> T:
    """Run ``fn`` on the home's store, from a process other than the gateway's. The gateway
    may be running: a write that met one of its own (the audit log's next index) is retried."""
    cfg = load_config(home)
    db = sqlite_path(cfg)
    if db is not None and not db.exists():  # created private, whatever the umask
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        prepare_schema(engine, upgrade=cfg.auto_migrate)
        store = Store(engine, cfg.office_id)
        for attempt in range(5):
            try:
                result = fn(store, int(time.time() * 1000))
            except (IntegrityError, OperationalError) as e:
                if attempt == 4:
                    raise StorageError(f"the store refused the change ({type(e).__name__}); "
                                       "nothing was changed, try again") from e
                time.sleep(0.05 * (attempt + 1))
            else:
                if write:
                    _touch_stamp(home)
                return result
        raise AssertionError("unreachable")
    finally:
        engine.dispose()
