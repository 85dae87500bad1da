"""The ``blo-gateway`` parser and ``main``: every verb's arguments in one place, its
work in the module of its group (``keys``, ``messages``, ``users``, ``config``, ``serve``,
``cases``, ``audit``).

Errors print ``error <CODE>: <explanation>`` on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.node.roles import ROLES as USER_ROLES
from gateway.protocol.errors import GatewayError, RemoteError
from gateway.protocol.identity import ROLES
from gateway.protocol.messages import MessageType
from gateway.views.render import LANGS

if TYPE_CHECKING:
    pass
from gateway.cli.audit import cmd_audit_export, cmd_audit_verify, cmd_witness_rebase
from gateway.cli.backup import cmd_backup, cmd_backup_key_create, cmd_restore
from gateway.cli.cases import cmd_cases, cmd_countersign, cmd_record, cmd_stats
from gateway.cli.config import cmd_config_check, cmd_init
from gateway.cli.courier import cmd_courier_export, cmd_courier_import
from gateway.cli.doctor import cmd_doctor
from gateway.cli.keys import (
    cmd_directory_build,
    cmd_directory_install,
    cmd_directory_show,
    cmd_directory_sign,
    cmd_directory_verify,
    cmd_keys_create,
    cmd_keys_root_create,
    cmd_keys_rotate,
    cmd_keys_show,
)
from gateway.cli.messages import (
    cmd_inbox,
    cmd_open,
    cmd_render,
    cmd_seal,
    cmd_send,
    cmd_show,
    cmd_status,
    cmd_template,
)
from gateway.cli.migrate import cmd_migrate
from gateway.cli.roots import cmd_roots_build, cmd_roots_sign, cmd_roots_verify
from gateway.cli.serve import cmd_demo, cmd_health, cmd_serve
from gateway.cli.users import (
    cmd_tokens_revoke,
    cmd_users_add,
    cmd_users_disable,
    cmd_users_enable,
    cmd_users_list,
    cmd_users_password,
    cmd_users_remove,
    cmd_users_signout,
    cmd_users_totp,
    cmd_users_totp_code,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="blo-gateway",
        description="BLO Gateway: signed, encrypted, bilingual messages between the Lào Cai and "
                    "Hekou border liaison offices. Errors print 'error <CODE>: ...' and exit 2.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="two gateways on this machine walk one case end to end: "
                                    "every message type, an outage, the co-signed handover "
                                    "record, statistics, and both audit logs verified")
    d.add_argument("--workdir", help="keep keys and files here (default: a temporary folder)")
    d.add_argument("--lang", choices=LANGS, default="both", help="rendering language")
    d.add_argument("--serve", action="store_true",
                   help="afterwards keep both gateways running and print their web app URLs "
                        "with a sign-in for each role, until Ctrl-C")
    d.add_argument("--suite", type=int, choices=(1, 2), default=2,
                   help="2 (default): both offices on the post-quantum hybrid suite "
                        "(ML-DSA-65 beside Ed25519, ML-KEM-768 + X25519; docs/wire-format.md "
                        "§14-15); 1: the classical suite alone")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("render", help="print a payload (JSON or binary) or envelope in vi/zh/both")
    r.add_argument("file", help="payload .json ({\"type\":..., \"body\":...}), payload .pb, "
                                "or a sealed envelope")
    r.add_argument("--lang", choices=LANGS, default="both")
    for opt in ("--keyring", "--directory", "--roots"):
        r.add_argument(opt, help="to open an envelope: your office keyring, the signed "
                                 "directory, the trust roots")
    r.set_defaults(func=cmd_render)

    k = sub.add_parser("keys", help="office and root keys").add_subparsers(dest="keys_cmd",
                                                                           required=True)
    kc = k.add_parser("create", help="new Ed25519 + X25519 keys for an office (with "
                      "--post-quantum also ML-DSA-65 + ML-KEM-768/X25519: suite 2)")
    kc.add_argument("--office", required=True, help="office id, e.g. vn.laocai.blo")
    kc.add_argument("--country", required=True, choices=("VN", "CN"))
    kc.add_argument("--name-vi", required=True)
    kc.add_argument("--name-zh", required=True)
    kc.add_argument("--role", required=True, choices=ROLES)
    kc.add_argument("--endpoint", default="", help="base URL of the office's gateway peer API")
    kc.add_argument("--time-zone", default="",
                    help="the office's IANA time zone, e.g. Asia/Ho_Chi_Minh (default: its "
                         "country's: VN Asia/Ho_Chi_Minh, CN Asia/Shanghai)")
    kc.add_argument("--valid-days", type=int, default=365)
    kc.add_argument("--private", required=True,
                    help="keyring file to create (mode 600; never inside the repository)")
    kc.add_argument("--public", required=True, help="public office entry (JSON) to write")
    kc.add_argument("--post-quantum", action="store_true",
                    help="also ML-DSA-65 and ML-KEM-768 + X25519 keys; the entry then lists "
                         "suites [1, 2] (docs/wire-format.md §14)")
    kc.set_defaults(func=cmd_keys_create)
    kr = k.add_parser("rotate", help="add new keys; old keys stay valid for an overlap")
    kr.add_argument("--keyring", required=True)
    kr.add_argument("--public", required=True, help="the office entry to update")
    kr.add_argument("--valid-days", type=int, default=365)
    kr.add_argument("--overlap-days", type=int, default=14)
    kr.add_argument("--post-quantum", action="store_true",
                    help="also make suite-2 keys (ML-DSA-65, ML-KEM-768 + X25519): upgrades a "
                         "suite-1 keyring; the entry then lists suites [1, 2]")
    kr.set_defaults(func=cmd_keys_rotate)
    kt = k.add_parser("root-create", help="a country root key (for signing directories)")
    kt.add_argument("--country", required=True, choices=("VN", "CN"))
    kt.add_argument("--private", required=True, help="root key file to create (mode 600)")
    kt.add_argument("--roots", required=True, help="trust-roots file to add the public key to")
    kt.add_argument("--name-vi", default="")
    kt.add_argument("--name-zh", default="")
    kt.add_argument("--post-quantum", action="store_true",
                    help="a hybrid root: an ML-DSA-65 key beside the Ed25519 one; it signs "
                         "directories and root sets with both, and both are required "
                         "(wire-format §3); existing roots upgrade by a root rotation")
    kt.set_defaults(func=cmd_keys_root_create)
    ks = k.add_parser("show", help="public keys and fingerprints")
    g = ks.add_mutually_exclusive_group(required=True)
    g.add_argument("--keyring", help="a private keyring (secrets are not shown)")
    g.add_argument("--office-file", help="a public office entry")
    ks.set_defaults(func=cmd_keys_show)

    dr = sub.add_parser("directory", help="build, sign, verify, show the trust directory")
    ds = dr.add_subparsers(dest="dir_cmd", required=True)
    db = ds.add_parser("build", help="an unsigned directory from office entries")
    db.add_argument("--office", action="append", required=True, help="office entry (repeat)")
    db.add_argument("--serial", type=int, required=True, help="must exceed the current one")
    db.add_argument("--valid-days", type=int, default=365)
    db.add_argument("--revoke", action="append", metavar="KEY_ID=REASON")
    db.add_argument("--out", required=True)
    db.set_defaults(func=cmd_directory_build)
    dsg = ds.add_parser("sign", help="add a root key's signature")
    dsg.add_argument("file")
    dsg.add_argument("--root-key", required=True)
    dsg.add_argument("--out", help="default: sign in place")
    dsg.set_defaults(func=cmd_directory_sign)
    di = ds.add_parser(
        "install", help="install a newer co-signed directory into a gateway home; a running "
                        "gateway takes it at once (no restart) and offers it to its peers",
        description="Install a newer co-signed directory. If the gateway in --home is running, "
                    "this goes through its officer API (as an admin user) and takes effect at "
                    "once; its peers fetch it within one ping interval (30 s). Otherwise the "
                    "file and the store are updated for the next start. A directory older than "
                    "the newest one accepted (rollback) or another one with the same serial "
                    "(fork) is refused with BAD_DIRECTORY and recorded as an alert. With "
                    "--root-set, a root rotation (blo-gateway roots build) is installed first: "
                    "it must be signed by both roots in force and every new root (BAD_ROOTS "
                    "otherwise), and the directory must be signed by the new roots.")
    di.add_argument("file", help="the signed directory (directory.bin format)")
    di.add_argument("--root-set", metavar="FILE",
                    help="a signed root set (roots build/sign) whose new roots signed FILE")
    di.add_argument("--home", required=True, help="the gateway's home folder")
    di.add_argument("--user", default="admin",
                    help="admin user whose token file is used (private/tokens/USER.token)")
    di.set_defaults(func=cmd_directory_install)
    for name, fn, hlp in (("verify", cmd_directory_verify, "check both root signatures"),
                          ("show", cmd_directory_show, "list offices, keys, fingerprints")):
        sp = ds.add_parser(name, help=hlp)
        sp.add_argument("file")
        sp.add_argument("--roots", required=True, help="trust-roots file")
        if name == "show":
            sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=fn)

    rt = sub.add_parser("roots", help="rotate the trust roots (a root set signed by the "
                                      "roots in force and the new ones)")
    rts = rt.add_subparsers(dest="roots_cmd", required=True)
    rb = rts.add_parser("build", help="an unsigned root set: the roots in force with a "
                                     "country's root replaced, next version")
    rb.add_argument("--roots", required=True, help="the trust roots in force (roots.json)")
    rb.add_argument("--new", action="append", required=True, metavar="ROOTS_FILE",
                    help="a new root's public file (keys root-create --roots FILE; repeat "
                         "for both countries)")
    rb.add_argument("--out", required=True)
    rb.set_defaults(func=cmd_roots_build)
    rsg = rts.add_parser("sign", help="add a root key's signature (current or new root)")
    rsg.add_argument("file")
    rsg.add_argument("--root-key", required=True)
    rsg.add_argument("--out", help="default: sign in place")
    rsg.set_defaults(func=cmd_roots_sign)
    rv = rts.add_parser("verify", help="check a root set against the roots in force "
                                      "(BAD_ROOTS if it may not replace them)")
    rv.add_argument("file")
    rv.add_argument("--roots", required=True, help="the trust roots in force (roots.json)")
    rv.add_argument("--out", help="write the new trust roots (roots.json format) here")
    rv.set_defaults(func=cmd_roots_verify)

    it = sub.add_parser("init", help="create a gateway home folder for one office")
    it.add_argument("--home", required=True)
    it.add_argument("--keyring", required=True, help="the office's keyring (copied, mode 600)")
    it.add_argument("--directory", required=True)
    it.add_argument("--roots", required=True)
    it.add_argument("--peer-port", type=int, default=8443)
    it.add_argument("--api-port", type=int, default=8080)
    it.add_argument("--peer-url", action="append", metavar="OFFICE=URL",
                    help="override a peer's endpoint from the directory")
    it.set_defaults(func=cmd_init)
    cf = sub.add_parser("config", help="check a gateway's configuration").add_subparsers(
        dest="config_cmd", required=True)
    cc = cf.add_parser("check", help="check every setting of HOME/gateway.toml for type and "
                                     "range, and that the files it names exist; lists every "
                                     "problem; exit 0 if none, 1 otherwise")
    cc.add_argument("--home", required=True)
    cc.set_defaults(func=cmd_config_check)
    us = sub.add_parser("users", help="officer API users").add_subparsers(dest="users_cmd",
                                                                          required=True)
    ua = us.add_parser("add", help="create a user and its token file")
    ua.add_argument("--home", required=True)
    ua.add_argument("--name", required=True,
                    help="1-64 of a-z 0-9 . - _ (the rule of the audit log), e.g. mai.officer")
    ua.add_argument("--role", default="officer", choices=USER_ROLES,
                    help="officer (default), border_guard (repatriation notices and handover "
                         "records only), supervisor (reads everything, every case, statistics; "
                         "sends nothing), auditor (metadata and the audit log), admin")
    ua.set_defaults(func=cmd_users_add)
    ul = us.add_parser("list", help="users, roles and whether each is active (no tokens)")
    ul.add_argument("--home", required=True)
    ul.add_argument("--json", action="store_true", help="machine-readable output")
    ul.set_defaults(func=cmd_users_list)
    for verb, fn, hlp in (
            ("disable", cmd_users_disable, "refuse a user's token from now on (also on a "
                                           "running gateway); the user stays listed"),
            ("enable", cmd_users_enable, "accept a disabled user's token again"),
            ("remove", cmd_users_remove, "delete a user and its token file; refused at once")):
        uv = us.add_parser(verb, help=hlp)
        uv.add_argument("--home", required=True)
        uv.add_argument("--name", required=True)
        uv.set_defaults(func=fn)
    up = us.add_parser("password", help="set a user's web sign-in password (asked twice on the "
                                        "terminal); --totp also enrols a second factor")
    up.add_argument("--home", required=True)
    up.add_argument("--name", required=True)
    up.add_argument("--password-stdin", action="store_true",
                    help="read the password from one line of standard input (for scripts)")
    up.add_argument("--totp", action="store_true",
                    help="enrol a new TOTP second factor (required for officers) and print "
                         "its secret and otpauth:// URI once")
    up.set_defaults(func=cmd_users_password)
    for verb, fn, hlp in (
            ("totp", cmd_users_totp, "enrol (or replace) a user's TOTP second factor; prints "
                                     "its secret and otpauth:// URI once; sessions end"),
            ("signout", cmd_users_signout, "end every web session of a user at once"),
            ("totp-code", cmd_users_totp_code, "the demo only (blo-gateway demo --serve): "
                                               "print a user's current TOTP code; refused "
                                               "in any other home")):
        uv = us.add_parser(verb, help=hlp)
        uv.add_argument("--home", required=True)
        uv.add_argument("--name", required=True)
        uv.set_defaults(func=fn)
    tk = sub.add_parser("tokens", help="officer API tokens").add_subparsers(dest="tokens_cmd",
                                                                            required=True)
    tr = tk.add_parser("revoke", help="invalidate a user's token at once (also on a running "
                                      "gateway); --new issues another")
    tr.add_argument("--home", required=True)
    tr.add_argument("--user", required=True, help="the user whose token to revoke")
    tr.add_argument("--new", action="store_true",
                    help="write a new token to private/tokens/USER.token (mode 600)")
    tr.set_defaults(func=cmd_tokens_revoke)
    sv = sub.add_parser("serve", help="run the gateway (peer API, officer API, delivery)")
    sv.add_argument("--home", required=True)
    sv.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    sv.set_defaults(func=cmd_serve)
    mg = sub.add_parser("migrate", help="bring the database schema to this code's revision "
                                        "(serve refuses an older or newer one); back up first")
    mg.add_argument("--home", required=True)
    mg.add_argument("--check", action="store_true",
                    help="change nothing: exit 0 if the schema is current, 1 if not")
    mg.set_defaults(func=cmd_migrate)
    dc = sub.add_parser("doctor", help="check a home: permissions, configuration, database "
                                       "and schema, directory expiry, clock skew against "
                                       "each peer, PDF fonts; prints what to fix; exit 0 "
                                       "if all good, 1 otherwise")
    dc.add_argument("--home", required=True)
    dc.set_defaults(func=cmd_doctor)
    bk = sub.add_parser("backup-key", help="the offline backup key pair").add_subparsers(
        dest="backup_key_cmd", required=True)
    bkc = bk.add_parser("create", help="write DIR/backup.key (private, mode 600: keep it on "
                                       "the offline machine) and DIR/backup.pub (for the "
                                       "gateway)")
    bkc.add_argument("--out", required=True, metavar="DIR")
    bkc.set_defaults(func=cmd_backup_key_create)
    bu = sub.add_parser("backup", help="a consistent online snapshot of the database and the "
                                       "home's config and keys, encrypted to the offline "
                                       "backup public key (docs/backup.md)")
    bu.add_argument("--home", required=True)
    bu.add_argument("--out", required=True, help="the backup file to create")
    bu.add_argument("--to-key", required=True, metavar="PUBKEY_FILE",
                    help="backup.pub from backup-key create")
    bu.add_argument("--keep-days", type=int, default=30,
                    help="restore refuses the backup after this many days, as it may hold "
                         "content shredded since (default 30)")
    bu.set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="restore a backup into an empty or new home (then "
                                        "start the gateway; deploy/README.md)")
    rs.add_argument("file")
    rs.add_argument("--home", required=True)
    rs.add_argument("--backup-key", required=True, metavar="PRIVATE",
                    help="backup.key from backup-key create (the offline machine's)")
    rs.set_defaults(func=cmd_restore)

    def api_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--home", help="the gateway's home folder (API address and tokens)")
        sp.add_argument("--user", default="officer", help="token file private/tokens/USER.token")
        sp.add_argument("--api", help="officer API URL instead of --home")
        sp.add_argument("--token-file", help="with --api; or set BLO_TOKEN")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    sd = sub.add_parser("send", help="submit a message through the officer API")
    sd.add_argument("payload", help='payload JSON file: {"type": ..., "body": {...}}')
    sd.add_argument("--to", action="append", required=True, help="recipient office (repeat)")
    sd.add_argument("--lang", choices=LANGS, default="both",
                    help="language of a payload error (fields named by their labels)")
    sd.add_argument("--idempotency-key", metavar="KEY",
                    help="Idempotency-Key of this submission (default: a random one per "
                         "invocation); running send again with the same key and payload "
                         "answers with the first message id instead of sending twice")
    api_args(sd)
    sd.set_defaults(func=cmd_send)
    tp = sub.add_parser("template", help="an example payload JSON of a type, every field "
                                         "present; --explain: each field's labels and values")
    tp.add_argument("type", choices=[m.slug for m in MessageType],
                    metavar="TYPE", help="payload type: " + ", ".join(m.slug for m in MessageType))
    tp.add_argument("--lang", choices=("vi", "zh"), default="vi",
                    help="--explain: this language's labels first")
    tp.add_argument("--explain", action="store_true",
                    help="list each field's path, its vi and zh labels and allowed values")
    tp.set_defaults(func=cmd_template)
    ss = sub.add_parser("status", help="delivery state of a sent message (or of the last ones)")
    ss.add_argument("message_id", nargs="?")
    ss.add_argument("--limit", type=int, default=20)
    api_args(ss)
    ss.set_defaults(func=cmd_status)
    ib = sub.add_parser("inbox", help="received messages (metadata only)")
    ib.add_argument("--limit", type=int, default=50)
    api_args(ib)
    ib.set_defaults(func=cmd_inbox)
    sh = sub.add_parser("show", help="open a received message, in vi, zh or both")
    sh.add_argument("message_id")
    sh.add_argument("--lang", choices=LANGS, default="both")
    api_args(sh)
    sh.set_defaults(func=cmd_show)
    cs = sub.add_parser("cases", help="case items: state, deadline, overdue")
    cs.add_argument("--overdue", action="store_true", help="only overdue items")
    cs.add_argument("--due-hours", type=float, help="only items due within this many hours")
    api_args(cs)
    cs.set_defaults(func=cmd_cases)
    st = sub.add_parser("stats", help="statistics for a reporting period (from state and "
                                      "metadata, never plaintext), counted in the gateway "
                                      "office's time zone, which the figures name")
    st.add_argument("--period", help="2026-Q1..Q4 (quarter), 2026-H1|H2 (half-year), 2026 "
                                     "(year) or 2026-03-31 (day), from local midnight")
    st.add_argument("--from", dest="from_", metavar="YYYY-MM-DD",
                    help="first day (from local midnight)")
    st.add_argument("--to", metavar="YYYY-MM-DD", help="day after the last (exclusive)")
    st.add_argument("--csv", action="store_true")
    st.add_argument("--pdf", metavar="FILE", help="write the bilingual PDF report")
    api_args(st)
    st.set_defaults(func=cmd_stats)
    rc = sub.add_parser("record", help="a handover record with both sides' signatures")
    rc.add_argument("message_id")
    rc.add_argument("--pdf", metavar="FILE", help="write the bilingual PDF for hand signing")
    rc.add_argument("--lang", choices=LANGS, default="both")
    api_args(rc)
    rc.set_defaults(func=cmd_record)
    cg = sub.add_parser("countersign", help="sign a received handover record (both sides sign "
                                            "the same bytes)")
    cg.add_argument("message_id")
    api_args(cg)
    cg.set_defaults(func=cmd_countersign)
    he = sub.add_parser("health", help="store, peers' reachability, backlog, clock skew")
    api_args(he)
    he.set_defaults(func=cmd_health)

    co = sub.add_parser("courier", help="carry the peer link on removable media while the "
                                        "border link is down (signed bundles; an admin "
                                        "token)").add_subparsers(dest="courier_cmd",
                                                                 required=True)
    ce = co.add_parser("export", help="write the next bundle for a peer: everything queued "
                                      "for it, the receipts owed to it, our checkpoint and "
                                      "cosignature")
    ce.add_argument("--to", required=True, help="the peer office, e.g. cn.yunnan.hekou.blo")
    ce.add_argument("--out", required=True, help="the bundle file to write")
    ci = co.add_parser("import", help="verify and import a bundle from a peer (each envelope "
                                      "as the peer API checks it; importing twice changes "
                                      "nothing)")
    ci.add_argument("file", help="the bundle file")
    ci.add_argument("--return-out", metavar="FILE",
                    help="then write the bundle that goes back to its issuer (the receipts "
                         "for what was imported, and whatever is queued for it)")
    for sp in (ce, ci):
        sp.add_argument("--max-bytes", type=int, default=None,
                        help="largest bundle to write (default and most: 256 MiB); what "
                             "does not fit stays queued for the next one")
        api_args(sp)
        sp.set_defaults(user="admin")
    ce.set_defaults(func=cmd_courier_export)
    ci.set_defaults(func=cmd_courier_import)

    wi = sub.add_parser("witness", help="this gateway as the witness of its peers' logs"
                        ).add_subparsers(dest="witness_cmd", required=True)
    wr = wi.add_parser("rebase", help="after a peer restored its gateway from a backup (and "
                                      "the offices recorded it): hold its log again at the "
                                      "newest size this witness cosigned that is at most the "
                                      "restored size, so that the restored log is witnessed "
                                      "again (an audit leaf; deploy/README.md)")
    wr.add_argument("--home", required=True, help="this (the witness's) gateway home")
    wr.add_argument("--origin", required=True, metavar="OFFICE",
                    help="the office whose log was restored, e.g. vn.laocai.blo")
    wr.add_argument("--at-most", required=True, type=int, metavar="SIZE",
                    help="the size of its restored log (blo-gateway restore prints it)")
    wr.set_defaults(func=cmd_witness_rebase)

    au = sub.add_parser("audit", help="export and verify the signed audit log").add_subparsers(
        dest="audit_cmd", required=True)
    ae = au.add_parser("export", help="write this gateway's audit bundle (a tar file)")
    ae.add_argument("--home", required=True)
    ae.add_argument("--out", required=True)
    ae.set_defaults(func=cmd_audit_export)
    av = au.add_parser("verify", help="verify one bundle, or both sides'; exit 0 verified, "
                                      "1 tampered, 2 witnessing policy not met, 3 could not "
                                      "check (docs/audit-log.md)")
    av.add_argument("bundle", nargs="+", help="one bundle, or two (one per side)")
    av.add_argument("--roots", help="the VN and CN trust roots you pinned (roots.json); the "
                                    "bundle's own roots must equal them")
    av.add_argument("--home", help="a gateway's home: its pinned roots, its witnessing "
                                   "interval, and its office key to sign --peer requests")
    av.add_argument("--root-fingerprint", action="append", metavar="HEX",
                    help="accept the bundle's roots only if their fingerprints are these "
                         "published ones (give both)")
    av.add_argument("--peer", metavar="URL",
                    help="peer API of the gateway whose log the first bundle is: its latest "
                         "cosigned checkpoint must extend the bundle (needs --home)")
    av.add_argument("--max-witness-lag", type=float, metavar="SECONDS",
                    help="entries older than this before the export must be covered by a "
                         "checkpoint the other country cosigned (default: six witnessing "
                         "intervals, 60 s, or from --home)")
    av.add_argument("--lang", choices=LANGS, default="both")
    av.add_argument("--json", action="store_true")
    av.set_defaults(func=cmd_audit_verify)

    se = sub.add_parser("seal", help="seal a payload JSON file into an envelope (offline)")
    se.add_argument("payload")
    se.add_argument("--to", action="append", required=True, help="recipient office (repeat)")
    se.add_argument("--out", required=True)
    for opt in ("--keyring", "--directory", "--roots"):
        se.add_argument(opt, required=True)
    se.set_defaults(func=cmd_seal)
    op = sub.add_parser("open", help="verify and open an envelope file (offline)")
    op.add_argument("file")
    op.add_argument("--lang", choices=LANGS, default="both")
    op.add_argument("--json", action="store_true")
    for opt in ("--keyring", "--directory", "--roots"):
        op.add_argument(opt, required=True)
    op.set_defaults(func=cmd_open)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe too
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly, as a tool killed by SIGPIPE
        # would. Later writes (the flush at exit) go to /dev/null instead of failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except RemoteError as e:
        print(f"error {e.remote_code}: {e.message}", file=sys.stderr)
        return 2
    except GatewayError as e:
        print(f"error {e.code}: {e.message}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"error NOT_FOUND: {e.filename}: no such file", file=sys.stderr)
        return 2
    except FileExistsError as e:
        print(f"error EXISTS: {e.filename} exists; refusing to overwrite a key file",
              file=sys.stderr)
        return 2
    return status
