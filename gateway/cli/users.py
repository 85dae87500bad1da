"""``users`` and ``tokens``: officer API accounts, changed in the home's database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from gateway.cli._common import _print_json

__all__ = ["cmd_tokens_revoke", "cmd_users_add", "cmd_users_disable", "cmd_users_enable",
           "cmd_users_list", "cmd_users_remove"]


def cmd_users_add(a: argparse.Namespace) -> int:
    from gateway.node.home import add_user

    path = add_user(Path(a.home), a.name, a.role)
    print(f"user {a.name} ({a.role}): token in {path} (mode 600); give it to the user only")
    return 0


def cmd_users_list(a: argparse.Namespace) -> int:
    from gateway.node.home import list_users
    from gateway.views.render import iso_time

    users = list_users(Path(a.home))
    if a.json:
        _print_json(users)
        return 0
    for u in users:
        state = (f"disabled {iso_time(u['disabled_at_ms'])}" if u["disabled_at_ms"]
                 else "active")
        print(f"{u['name']:<32} {u['role']:<8} created {iso_time(u['created_at_ms'])}  {state}")
    return 0


def _set_disabled(a: argparse.Namespace, disabled: bool) -> int:
    from gateway.node.home import set_user_disabled

    set_user_disabled(Path(a.home), a.name, disabled)
    print(f"user {a.name} " + ("disabled: its token is refused from now on" if disabled
                               else "enabled again"))
    return 0


def cmd_users_disable(a: argparse.Namespace) -> int:
    return _set_disabled(a, True)


def cmd_users_enable(a: argparse.Namespace) -> int:
    return _set_disabled(a, False)


def cmd_users_remove(a: argparse.Namespace) -> int:
    from gateway.node.home import remove_user

    remove_user(Path(a.home), a.name)
    print(f"user {a.name} removed (its token is refused from now on; its token file is "
          "deleted; its past actions stay in the audit log)")
    return 0


def cmd_users_password(a: argparse.Namespace) -> int:
    """Web sign-in: set a password (read from the terminal, or one line of stdin), and with
    --totp enrol a new second factor whose secret is printed once."""
    import getpass

    from gateway.cli.web_users import enrol_totp, set_web_password

    if a.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"web password for {a.name}: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    set_web_password(Path(a.home), a.name, password)
    print(f"web password of {a.name} set; its web sessions ended")
    if a.totp:
        _print_totp(*enrol_totp(Path(a.home), a.name), a.name)
    return 0


def cmd_users_totp(a: argparse.Namespace) -> int:
    from gateway.cli.web_users import enrol_totp

    _print_totp(*enrol_totp(Path(a.home), a.name), a.name)
    return 0


def _print_totp(secret: str, uri: str, name: str) -> None:
    print(f"second factor of {name} enrolled; its web sessions ended. Shown only now: give "
          "it to the user alone, to enter in an authenticator app (or as a QR code of the URI)")
    print(f"secret: {secret}")
    print(f"uri: {uri}")


def cmd_users_totp_code(a: argparse.Namespace) -> int:
    """The demo only: print a user's current TOTP code (refused outside a demo's home)."""
    from gateway.cli.web_users import current_totp_code

    print(current_totp_code(Path(a.home), a.name))
    return 0


def cmd_users_signout(a: argparse.Namespace) -> int:
    from gateway.cli.web_users import end_web_sessions

    n = end_web_sessions(Path(a.home), a.name)
    print(f"{n} web session(s) of {a.name} ended")
    return 0


def cmd_tokens_revoke(a: argparse.Namespace) -> int:
    from gateway.node.home import revoke_token

    path = revoke_token(Path(a.home), a.user, new=a.new)
    if path is None:
        print(f"token of {a.user} revoked: refused from now on (issue a new one with --new)")
    else:
        print(f"token of {a.user} revoked; new token in {path} (mode 600); give it to the "
              "user only")
    return 0
