"""``blo-import``: the hotline's call log and the Border Guard's roster into messages.

    blo-import hotline CALLS.csv|.json [--to OFFICE] [--dry-run] [--send-good-rows]
    blo-import roster ROSTER.csv|.xlsx --to OFFICE [--dry-run] [--send-good-rows]
        [--lang vi|zh|both] [--zone Asia/Ho_Chi_Minh] [--json] [--workers 16]
        [--home DIR --user NAME | --api URL --token-file FILE]

``--dry-run`` reads and checks the file and prints what would be sent (bilingual) without
reaching any gateway. Without it, a file with any bad row sends nothing unless
``--send-good-rows``. Messages (totals, each bad row with its row number, column and
reason) are in ``--lang``. Exit status: 0 all rows good (and sent), 1 bad rows (reported;
nothing sent, or only the good rows with ``--send-good-rows``) or messages the gateway
refused, 2 an error (``error <CODE>: ...`` on stderr: the file unreadable, a column missing,
the gateway unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from adapters import hotline, roster
from adapters.cells import Reading
from adapters.plan import Plan
from adapters.send import Outcome, send_items
from adapters.table import read_table
from adapters.text import LANGS, say
from gateway.cli.client import OfficerClient
from gateway.protocol.errors import BadImportRows, ConfigError, GatewayError, RemoteError
from gateway.protocol.localtime import zone_named

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="blo-import", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="kind", required=True)
    for kind, what in (("hotline", "the hotline's call log (CSV or JSON): one hotline "
                                   "report per call"),
                       ("roster", "the Border Guard's roster (CSV or XLSX): one "
                                  "repatriation notice per planned handover")):
        sp = sub.add_parser(kind, help=what, description=what + "; columns in "
                            "adapters/README.md, examples in adapters/examples/")
        sp.add_argument("file")
        sp.add_argument("--to", action="append", default=[], metavar="OFFICE",
                        help="recipient office (repeat); for hotline reports, rows with a "
                             "routed_to cell go there instead" + (
                                 "" if kind == "hotline" else " (required)"))
        sp.add_argument("--dry-run", action="store_true",
                        help="check the file and print what would be sent; send nothing")
        sp.add_argument("--send-good-rows", action="store_true",
                        help="send the good rows even if others are bad (those are reported)")
        sp.add_argument("--lang", choices=LANGS, default="both",
                        help="language of the messages (the preview is always bilingual)")
        sp.add_argument("--zone", metavar="IANA_ZONE",
                        help="zone of times written without one (e.g. Asia/Ho_Chi_Minh); "
                             "without it such a time is a bad row")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.add_argument("--workers", type=int, default=16,
                        help="messages in flight at once (default 16: the gateway commits "
                             "the messages that arrive together in one transaction)")
        sp.add_argument("--home", help="the gateway's home folder (API address and tokens)")
        sp.add_argument("--user", default="officer",
                        help="token file private/tokens/USER.token")
        sp.add_argument("--api", help="officer API URL instead of --home")
        sp.add_argument("--token-file", help="with --api; or set BLO_TOKEN")
    return ap


def _plan(a: argparse.Namespace) -> Plan:
    if a.kind == "roster" and not a.to:
        raise ConfigError(say("import.need_to", a.lang))
    reading = Reading(zone_named(a.zone) if a.zone else None, int(time.time() * 1000))
    if a.kind == "hotline":
        table = read_table(Path(a.file), hotline.COLUMNS, a.lang)
        return hotline.plan_hotline(table, reading=reading, to=tuple(a.to))
    table = read_table(Path(a.file), roster.COLUMNS, a.lang)
    return roster.plan_roster(table, reading=reading, to=tuple(a.to))


def _outcome_text(o: Outcome, lang: str) -> str:
    rows = ", ".join(str(n) for n in o.item.rows)
    where = say("import.row", lang, n=rows)
    if o.sent:
        said = "import.already_sent" if o.replayed else "import.sent_one"
        return f"{where}: {say(said, lang, id=o.message_id)}"
    if o.code:
        return f"{where}: {say('import.refused', lang, code=o.code)}"
    return f"{where}: {say('import.not_sent', lang)}"


def run(a: argparse.Namespace) -> int:
    plan = _plan(a)
    out: list[str] = []
    report = plan.to_json(a.lang, payloads=a.dry_run) if a.json else {}
    left, fault = 0, None
    if a.dry_run:
        if not a.json:
            out.append(say("import.dry_run", "both"))
            out.extend(plan.preview())
    elif not plan.problems or a.send_good_rows:
        outcomes, fault = _send(a, plan)
        left = sum(not o.sent for o in outcomes)
        if a.json:
            report["sent"] = [{"rows": list(o.item.rows), "key": o.item.key,
                               "message_id": o.message_id, "replayed": o.replayed,
                               "code": o.code} for o in outcomes]
        else:
            out.extend(_outcome_text(o, a.lang) for o in outcomes)
            out.append(say("import.sent", a.lang, new=sum(o.sent and not o.replayed
                                                          for o in outcomes),
                           again=sum(o.replayed for o in outcomes), left=left))
    if not a.json:
        out.append(plan.summary(a.lang))
        if plan.table.ignored:
            out.append(f"{say('import.ignored_columns', a.lang)}: "
                       f"{', '.join(plan.table.ignored)}")
        out.extend(plan.problem_lines(a.lang))
    _print(a, out, report)
    if fault is not None:
        code = fault.remote_code if isinstance(fault, RemoteError) else fault.code
        print(f"error {code}: {fault.message}", file=sys.stderr)
        print(say("import.stopped", a.lang), file=sys.stderr)
        return 2
    if plan.problems:
        key = ("import.bad_rows_dry" if a.dry_run else
               "import.bad_rows_sent_good" if a.send_good_rows else "import.bad_rows_held")
        e = BadImportRows(say(key, a.lang, bad=len(plan.bad_rows)))
        print(f"error {e.code}: {e.message}", file=sys.stderr)
    return 1 if plan.problems or left else 0


def _send(a: argparse.Namespace, plan: Plan) -> tuple[list[Outcome], GatewayError | None]:
    def client() -> OfficerClient:
        return OfficerClient.connect(home=a.home, user=a.user, api=a.api,
                                     token_file=a.token_file)

    client().health()  # fails fast (error PEER_UNAVAILABLE) before any row is sent
    return send_items(plan.items, client, a.workers)


def _print(a: argparse.Namespace, out: list[str], report: dict[str, object]) -> None:
    if a.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print("\n".join(out))


def main(argv: Sequence[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    try:
        status = run(a)
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe too
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly with SIGPIPE's status, as
        # blo-gateway does; later writes (the flush at exit) go to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except RemoteError as e:
        print(f"error {e.remote_code}: {e.message}", file=sys.stderr)
        return 2
    except GatewayError as e:
        print(f"error {e.code}: {e.message}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
