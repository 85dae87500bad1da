"""``backup-key create``, ``backup`` and ``restore``: encrypted online snapshots of a gateway.

``backup`` takes a consistent snapshot while the gateway runs — SQLite through the online
backup API (``sqlite3.Connection.backup``), PostgreSQL through ``pg_dump`` of the gateway's
schema (refused with BAD_CONFIG when ``pg_dump`` is not installed) — plus every file of the
home the gateway needs to run (``gateway.toml``, directory, roots, ``private/``: keyring,
tokens), and encrypts it to an offline backup public key. The private backup key is made on
and stays on the offline machine (``backup-key create``); the gateway only holds the public
one. ``restore`` needs the private key and an empty or absent ``--home``; it leaves
``redeliver.json`` in the home, so that the gateway asks its peers at start to re-send what
they delivered after the backup (``gateway.node.redelivery``).

File format (docs/backup.md), all integers big-endian::

    magic      b"BLO-BACKUP-1\\n"                      13 bytes
    sealed     SealedBox(backup public key, file key)   80 bytes (32-byte key + 48)
    header     secretstream header                      24 bytes
    chunks     4-byte length N (<= 1 MiB + 17), then N bytes of
               crypto_secretstream_xchacha20poly1305 ciphertext; the last is TAG_FINAL

The plaintext is a tar archive: ``manifest.json`` (office, created_at_ms, backend, schema
revision), ``home/...`` (the home's files, the SQLite database excluded) and
``database/gateway.db`` (SQLite) or ``database/dump.sql`` (PostgreSQL). The magic and the
sealed key are the associated data of the first chunk, so nothing of the file can be
swapped, reordered, cut short or appended to without ``restore`` refusing it (BAD_BACKUP).
Chunk lengths are checked before a chunk is read.

Crypto-shredding and backups: a backup holds the storage keys of the messages it holds.
``restore`` shreds, before the gateway starts, every message past the restored
configuration's retention period (the gateway's own sweep, run at once), so a restored
gateway never shows what its retention had shredded; and a backup file is kept no longer
than ``--keep-days`` (default 30, written in the manifest): ``restore`` refuses an older one
(BAD_BACKUP), and the runbook deletes them on the offline machine. Content shredded on the
gateway thus survives in backups for at most ``keep_days``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import nacl.bindings as nb
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from gateway.protocol.errors import BadBackup, ConfigError, GatewayError
from gateway.protocol.identity import write_private

__all__ = ["cmd_backup", "cmd_backup_key_create", "cmd_restore", "read_backup",
           "write_backup"]

MAGIC = b"BLO-BACKUP-1\n"
CHUNK = 1 << 20
ABYTES = nb.crypto_secretstream_xchacha20poly1305_ABYTES
HEADER = nb.crypto_secretstream_xchacha20poly1305_HEADERBYTES
SEALED = 32 + 48
KEY_KIND_PUBLIC = "blo-backup-public-key-1"
KEY_KIND_PRIVATE = "blo-backup-private-key-1"
DAY_MS = 86_400_000


# ---------------------------------------------------------------------- keys

def cmd_backup_key_create(a: argparse.Namespace) -> int:
    out = Path(a.out)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = PrivateKey.generate()
    pub = base64.b64encode(bytes(key.public_key)).decode()
    write_private(out / "backup.key", json.dumps(
        {"kind": KEY_KIND_PRIVATE, "private": base64.b64encode(bytes(key)).decode(),
         "public": pub}) + "\n")
    pub_path = out / "backup.pub"
    fd = os.open(pub_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"kind": KEY_KIND_PUBLIC, "public": pub}) + "\n")
    print(f"{out / 'backup.key'}: private backup key (mode 600): keep it on the offline "
          f"machine only\n{pub_path}: public backup key: copy it to the gateway")
    return 0


def _load_key(path: Path, kind: str) -> bytes:
    if kind == KEY_KIND_PRIVATE and os.stat(path).st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others; chmod 600 it")
    try:
        data = json.loads(path.read_bytes()[:4096])
        if data.get("kind") != kind:
            raise ValueError(kind)
        raw = base64.b64decode(data["private" if kind == KEY_KIND_PRIVATE else "public"],
                               validate=True)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path} is not a {kind} file (blo-gateway backup-key "
                          "create)") from e
    if len(raw) != 32:
        raise ConfigError(f"{path}: the key is not 32 bytes")
    return raw


# ---------------------------------------------------------------------- the format

def write_backup(plain: IO[bytes], out: IO[bytes], public_key: bytes) -> None:
    """Encrypt the stream ``plain`` to ``public_key`` in the format above."""
    file_key = nb.crypto_secretstream_xchacha20poly1305_keygen()
    sealed = SealedBox(PublicKey(public_key)).encrypt(file_key)
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    header = nb.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)
    out.write(MAGIC + sealed + header)
    ad: bytes | None = MAGIC + sealed
    block = plain.read(CHUNK)
    while True:
        nxt = plain.read(CHUNK)
        tag = (nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE if nxt
               else nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL)
        ct = nb.crypto_secretstream_xchacha20poly1305_push(state, block, ad, tag)
        out.write(len(ct).to_bytes(4, "big") + ct)
        ad = None
        if not nxt:
            return
        block = nxt


def read_backup(src: IO[bytes], private_key: bytes) -> Iterator[bytes]:
    """The plaintext chunks of a backup; BadBackup on any fault (checked before use)."""
    head = src.read(len(MAGIC) + SEALED + HEADER)
    if len(head) < len(MAGIC) + SEALED + HEADER or not head.startswith(MAGIC):
        raise BadBackup("not a BLO backup file (magic)")
    sealed = head[len(MAGIC):len(MAGIC) + SEALED]
    try:
        file_key = SealedBox(PrivateKey(private_key)).decrypt(sealed)
    except nacl.exceptions.CryptoError as e:
        raise BadBackup("this backup was not sealed to this backup key") from e
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(state, head[-HEADER:], file_key)
    ad: bytes | None = MAGIC + sealed
    while True:
        n_raw = src.read(4)
        if len(n_raw) < 4:
            raise BadBackup("the backup is cut short (no final chunk)")
        n = int.from_bytes(n_raw, "big")
        if not ABYTES <= n <= CHUNK + ABYTES:
            raise BadBackup(f"chunk of {n} bytes; at most {CHUNK + ABYTES}")
        ct = src.read(n)
        if len(ct) < n:
            raise BadBackup("the backup is cut short")
        try:
            block, tag = nb.crypto_secretstream_xchacha20poly1305_pull(state, ct, ad)
        except nacl.exceptions.CryptoError as e:
            raise BadBackup("a chunk of the backup does not authenticate") from e
        ad = None
        yield block
        if tag == nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL:
            if src.read(1):
                raise BadBackup("data after the final chunk")
            return


# ---------------------------------------------------------------------- backup

def _db_excluded(cfg: Any) -> set[Path]:
    from gateway.node.home import sqlite_path

    db = sqlite_path(cfg)
    if db is None:
        return set()
    return {db.resolve(), *(db.with_name(db.name + s).resolve() for s in ("-wal", "-shm",
                                                                            "-journal", ".lock"))}


def _snapshot_db(cfg: Any, work: Path) -> tuple[str, str]:
    """Write the database snapshot under ``work``; returns (backend, archive name)."""
    from gateway.node.home import sqlite_path

    db = sqlite_path(cfg)
    if db is not None:
        if not db.exists():
            raise ConfigError(f"{db}: no database to back up")
        target = work / "gateway.db"
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # the online backup API: consistent while the gateway writes
        finally:
            dst.close()
            src.close()
        return "sqlite", "gateway.db"
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise ConfigError("the database is PostgreSQL and pg_dump is not installed "
                          "(apt-get install postgresql-client); back it up with your "
                          "PostgreSQL backup tool and this command's home files")
    url = cfg.db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    args = [pg_dump, "--no-owner", "--no-privileges", "--format=plain",
            f"--file={work / 'dump.sql'}"]
    if cfg.database_schema:
        args.append(f"--schema={cfg.database_schema}")
    proc = subprocess.run([*args, url], capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise ConfigError(f"pg_dump failed: {proc.stderr.strip()[:500]}")
    return "postgresql", "dump.sql"


def cmd_backup(a: argparse.Namespace) -> int:
    from gateway.node.config import load_config
    from gateway.store import make_engine, schema_revision

    home = Path(a.home)
    cfg = load_config(home)
    public = _load_key(Path(a.to_key), KEY_KIND_PUBLIC)
    out = Path(a.out)
    if out.exists():
        raise FileExistsError(None, None, str(out))
    os.umask(0o077)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="blo-backup-") as tmp:
        work = Path(tmp)
        backend, db_name = _snapshot_db(cfg, work)
        engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
        try:
            revision = schema_revision(engine)[0]
        finally:
            engine.dispose()
        manifest = {"format": 1, "office": cfg.office_id, "backend": backend,
                    "schema": cfg.database_schema, "schema_revision": revision,
                    "created_at_ms": int(time.time() * 1000), "keep_days": a.keep_days}
        tar_path = work / "backup.tar"
        skip = _db_excluded(cfg)
        with tarfile.open(tar_path, "w") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            for path in sorted(home.rglob("*")):
                if path.is_file() and not path.is_symlink() and path.resolve() not in skip:
                    tar.add(path, arcname=f"home/{path.relative_to(home).as_posix()}",
                            recursive=False)
            tar.add(work / db_name, arcname=f"database/{db_name}")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(tar_path, "rb") as plain, os.fdopen(fd, "wb") as f:
            write_backup(plain, f, public)
            f.flush()
            os.fsync(f.fileno())
    print(f"{out}: {backend} backup of {cfg.office_id} (schema {revision}), "
          f"{out.stat().st_size} bytes in {time.monotonic() - t0:.1f} s; keep it no longer "
          f"than {a.keep_days} days")
    return 0


# ---------------------------------------------------------------------- restore

def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if (not m.isfile() or m.name.startswith("/") or ".." in parts
                or parts[0] not in ("manifest.json", "home", "database")):
            raise BadBackup(f"unexpected entry in the backup: {m.name!r}")
        members.append(m)
    return members


def cmd_restore(a: argparse.Namespace) -> int:
    home = Path(a.home)
    if home.exists() and any(home.iterdir()):
        raise BadBackup(f"{home} is not empty; restore into an empty or new home")
    private = _load_key(Path(a.backup_key), KEY_KIND_PRIVATE)
    os.umask(0o077)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="blo-restore-") as tmp:
        tar_path = Path(tmp) / "backup.tar"
        with open(a.file, "rb") as src, open(tar_path, "wb") as plain:
            for block in read_backup(src, private):  # authenticated before anything is used
                plain.write(block)
        with tarfile.open(tar_path, "r") as tar:
            members = _safe_members(tar)
            mf = tar.extractfile("manifest.json")
            if mf is None:
                raise BadBackup("the backup has no manifest")
            manifest = json.loads(mf.read(65536))
            age_days = (time.time() * 1000 - int(manifest["created_at_ms"])) / DAY_MS
            if age_days > float(manifest["keep_days"]):
                raise BadBackup(f"this backup is {age_days:.0f} days old, past its "
                                f"{manifest['keep_days']} days (it may hold content shredded "
                                "since); delete it and restore a newer one")
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(home, 0o700)
            for m in members:
                if m.name.startswith("home/"):
                    target = home / m.name[len("home/"):]
                    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    f = tar.extractfile(m)
                    assert f is not None
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        shutil.copyfileobj(f, out)
            _restore_db(tar, manifest, home)
    shredded = _reshred(home)
    # What the peers delivered after the backup is lost here: the gateway asks each peer
    # to send it again at its next start (gateway.node.redelivery); the peer's clock may be
    # ahead of ours by up to max_skew_ms.
    from gateway.node.config import load_config
    from gateway.node.redelivery import write_marker

    write_marker(home, max(0, int(manifest["created_at_ms"]) - load_config(home).max_skew_ms))
    from gateway.node.home import audit_size

    size = audit_size(home)
    print(f"{home}: restored {manifest['office']} from a backup of "
          f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(manifest['created_at_ms'] / 1000))}"
          f" UTC in {time.monotonic() - t0:.1f} s; {shredded} message(s) past retention "
          "shredded again. At its start the gateway asks its peers to re-send what they "
          "delivered since the backup. Its audit log is back at size "
          f"{size}: the peers' witnesses refuse it until their operators run `blo-gateway "
          f"witness rebase --home THEIR_HOME --origin {manifest['office']} --at-most {size}` "
          "(deploy/README.md). Start it: blo-gateway serve --home " + str(home))
    return 0


def _restore_db(tar: tarfile.TarFile, manifest: dict[str, Any], home: Path) -> None:
    from gateway.node.config import load_config
    from gateway.node.home import sqlite_path

    cfg = load_config(home)
    if manifest["backend"] == "sqlite":
        db = sqlite_path(cfg)
        if db is None:
            raise BadBackup("a SQLite backup, but the restored gateway.toml names another "
                            "database")
        if db.exists():
            raise BadBackup(f"{db} exists; refusing to overwrite a database")
        f = tar.extractfile("database/gateway.db")
        if f is None:
            raise BadBackup("the backup has no database")
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(f, out)
        return
    psql = shutil.which("psql")
    if psql is None:
        raise ConfigError("a PostgreSQL backup needs psql (apt-get install postgresql-client)")
    f = tar.extractfile("database/dump.sql")
    if f is None:
        raise BadBackup("the backup has no database dump")
    url = cfg.db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    proc = subprocess.run([psql, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1",  # noqa: S603
                           "--single-transaction", url], input=f.read(), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise ConfigError("psql could not load the dump (the schema must not exist yet): "
                          + proc.stderr.decode(errors="replace").strip()[:500])


def _reshred(home: Path) -> int:
    """Run the retention sweep once on the restored store, before any start."""
    from gateway.node.config import load_config
    from gateway.store import Store, make_engine, prepare_schema

    cfg = load_config(home)
    if cfg.retention_days <= 0:
        return 0
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        try:
            prepare_schema(engine, upgrade=False)
        except GatewayError as e:
            raise GatewayError(f"restored, but: {e.message}") from e
        now = int(time.time() * 1000)
        n: int = Store(engine, cfg.office_id).shred_expired(
            now - int(cfg.retention_days * DAY_MS), now)
        return n
    finally:
        engine.dispose()
