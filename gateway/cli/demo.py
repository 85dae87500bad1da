"""The demo: two real gateways on loopback exchanging every message type.

``blo-gateway demo`` provisions fresh keys for the Lào Cai BLO and the Hekou BLO
and a directory co-signed by the VN and CN roots, starts each gateway as its own
process (SQLite stores in temporary folders, or ``--workdir DIR`` to keep them),
and walks the invented case of shared/design/scenario.md through the officer
APIs: every message type, both directions, each delivered with a signed receipt.
It then stops the Hekou gateway, queues more messages in Lào Cai, restarts Hekou
and shows delivery resuming, and finally opens one message in both languages.
Exit status 0 means every step checked out.

With ``--serve`` the two gateways keep running afterwards: for each, the web app's URL
and a sign-in for every role (user name, a random password, and for the roles that read
content the TOTP secret, whose current code ``blo-gateway users totp-code`` prints — in a
demo's home only), until Ctrl-C (or SIGTERM); then both stop and the demo exits 0.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.audit.verify import verify_bundles
from gateway.cli.client import OfficerClient
from gateway.cli.provision import provision
from gateway.node.bundle import export_bundle
from gateway.node.home import add_user, init_home
from gateway.protocol.errors import GatewayError
from gateway.protocol.localtime import zone_named, zoned_times
from gateway.protocol.messages import Payload
from gateway.protocol.scenario import HEKOU, LAOCAI, ScenarioMessage, case_payloads, send_in_order
from gateway.views.audit_report import render_report

__all__ = ["GatewayProcess", "free_port", "run_demo"]


_PORTS_GIVEN: set[int] = set()
#: "LOW-HIGH": take ports from this range only (parallel test workers each get their own,
#: so that two of them never reserve the same port)
PORT_RANGE_ENV = "GATEWAY_FREE_PORTS"


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        return int(low)
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port that is free now and outside the kernel's ephemeral range.

    A port from ``bind(0)`` is an ephemeral port: between this call and the gateway's own
    bind, any outgoing connection (to PostgreSQL, to a peer) may be given the same port and
    the gateway then fails with "address already in use". Ports below the ephemeral range
    are never handed to outgoing connections; the ones given out by this process are not
    given twice.
    """
    floor = _ephemeral_floor()
    low = max(1024, floor - 12000)
    if m := re.fullmatch(r"(\d+)-(\d+)", os.environ.get(PORT_RANGE_ENV, "")):
        low, floor = int(m[1]), int(m[2])  # a test worker's own share (tests/conftest.py)
    for _ in range(200):
        port = low + secrets.randbelow(floor - low)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    with socket.socket() as s:  # the low range is crowded: fall back to the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """``blo-gateway serve`` in its own process, as an operator would run it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start ``serve``; ``env`` adds to (or overrides) this process's environment."""
        log = (self.home / "gateway.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, "-m", "gateway", "serve", "--home", str(self.home)],
            stdout=log, stderr=log, env=None if env is None else {**os.environ, **env})
        log.close()  # the child holds its own descriptor

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def wait_healthy(self, client: OfficerClient, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return client.health()
            except GatewayError:
                if self.proc is None or self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _wait(what: str, check: Callable[[], bool], timeout: float = 30.0) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def _delivered(client: OfficerClient, mid: str) -> bool:
    return all(d["state"] == "delivered" for d in client.status(mid)["deliveries"])


def run_demo(workdir: Path | None = None, lang: str = "both", serve: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="blo-demo-") as tmp:
        folder = (workdir or Path(tmp)).resolve()
        try:
            return _run(folder, lang, serve)
        except (GatewayError, TimeoutError) as e:
            print(f"demo FAILED: {e}", file=sys.stderr)
            for log in folder.glob("*/gateway.log"):
                print(f"--- {log}", file=sys.stderr)
                print(log.read_text(encoding="utf-8")[-3000:], file=sys.stderr)
            return 1


def _serve(procs: dict[str, GatewayProcess], ports: dict[str, tuple[int, int]]) -> None:
    """Sign-ins for every role on both gateways, printed; then wait for Ctrl-C."""
    import threading

    from gateway.cli.web_users import enrol_totp, mark_demo_home, set_web_password
    from gateway.node.home import list_users
    from gateway.node.officer_api import ROLES
    from gateway.node.webauth import CONTENT_ROLES, new_password

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("10. Both gateways keep running: click through the case in a browser. Sign in with "
          "user / password (and the second factor's code where shown):", flush=True)
    for office, name in ((LAOCAI, "Lào Cai BLO"), (HEKOU, "Hekou BLO")):
        home = procs[office].home
        mark_demo_home(home)
        known = {u["name"] for u in list_users(home)}
        print(f"   {name}: http://127.0.0.1:{ports[office][1]}/app/", flush=True)
        for role in ROLES:
            if role not in known:
                add_user(home, role, role)
            password = new_password()
            set_web_password(home, role, password)
            line = f"     {role:<12} user {role:<12} password {password}"
            if role in CONTENT_ROLES:
                secret, _ = enrol_totp(home, role)
                line += (f"  TOTP secret {secret} (current code: blo-gateway users totp-code "
                         f"--home {home} --name {role})")
            print(line, flush=True)
    print("   Ctrl-C stops both gateways.", flush=True)
    while not stop.wait(0.5):
        for office, proc in procs.items():
            if proc.proc is None or proc.proc.poll() is not None:
                raise TimeoutError(f"the {office} gateway stopped; see its gateway.log")
    print("stopping both gateways", flush=True)


def _run(folder: Path, lang: str, serve: bool = False) -> int:
    ports = {o: (free_port(), free_port()) for o in (LAOCAI, HEKOU)}
    net = provision(int(time.time() * 1000),
                    endpoints={o: f"http://127.0.0.1:{p[0]}" for o, p in ports.items()})
    procs, clients = {}, {}
    for office, short in ((LAOCAI, "laocai"), (HEKOU, "hekou")):
        home = folder / short
        init_home(home, auto_migrate=True, keyring=net.keyrings[office],
                  directory=net.directory_bytes,
                  roots=net.roots, peer_port=ports[office][0], api_port=ports[office][1],
                  retry_base_ms=250, retry_cap_ms=2000, checkpoint_interval_s=0.5)
        add_user(home, "officer", "officer")
        procs[office] = GatewayProcess(home)
        clients[office] = OfficerClient.for_home(home, "officer")
    d = net.directory()
    print(f"1. Keys and directory: serial {d.serial}, {len(d.offices)} offices, co-signed by "
          f"the VN and CN roots. Gateways in {folder}")
    try:
        for proc in procs.values():
            proc.start()
        for office, proc in procs.items():
            proc.wait_healthy(clients[office])
        print(f"2. Two gateways running: Lào Cai BLO (peer port {ports[LAOCAI][0]}), "
              f"Hekou BLO (peer port {ports[HEKOU][0]})")
        steps = case_payloads()

        def send(step: ScenarioMessage, payload: Payload) -> str:
            client = clients[step.sender]
            mid = str(client.send(list(step.recipients), payload.to_dict())["message_id"])
            _wait("delivery", lambda: _delivered(client, mid))  # answers follow receipt
            return mid

        ids = send_in_order(steps, send)
        sent = list(zip(steps, ids, strict=True))
        for step, mid in sent:
            client = clients[step.sender]
            _wait("delivery", lambda c=client, m=mid: _delivered(c, m))  # type: ignore[misc]
        print("3. Every message type, both directions: stored, sent, delivered with a signed "
              "receipt")
        for step, mid in sent:
            st = clients[step.sender].status(mid)["deliveries"][0]
            print(f"   {step.payload.message_type.slug:<24} {step.sender:>20} -> {st['to']:<20}"
                  f" {st['state']}, receipt by {st['receipt']['signed_by'][:20]}… verified")

        record = ids[8]
        clients[HEKOU]._call("POST", f"/api/v1/records/{record}/countersign", {})
        _wait("both signatures", lambda: clients[LAOCAI]._call(
            "GET", f"/api/v1/records/{record}")["complete"])
        view = clients[LAOCAI]._call("GET", f"/api/v1/records/{record}")
        print("   The case on both sides (LC-2026-0042), moved by the messages themselves:")
        lc_data, hk_data = clients[LAOCAI].cases(), clients[HEKOU].cases()
        zones = [zone_named(lc_data["time_zone"]), zone_named(hk_data["time_zone"])]
        lc_cases = {c["id"]: c for c in lc_data["cases"]}
        hk_cases = {c["id"]: c for c in hk_data["cases"]}
        for cid, c in lc_cases.items():
            print(f"   {c['type']:<24} Lào Cai: {c['state']:<13} Hekou: "
                  f"{hk_cases[cid]['state']:<13} answer due "
                  f"{zoned_times(c['deadline_ms'], zones)}")
        signers = ", ".join(f"{o} ({s['key_id'][:16]}…)" for o, s in view["signatures"].items())
        print(f"   Handover record signed by both gateways over the same bytes: {signers}; "
              f"complete: {view['complete']}")
        try:
            pdf = clients[LAOCAI].raw(f"/api/v1/records/{record}/pdf")
            (folder / "handover-record.pdf").write_bytes(pdf)
            print("   Bilingual handover record for hand signing: "
                  f"{folder / 'handover-record.pdf'}")
        except GatewayError as e:
            print(f"   (no PDF: {e.message})")
        day = datetime.now(zones[1]).date().isoformat()  # today in Hekou's own time zone
        figures = clients[HEKOU]._call("GET", f"/api/v1/stats?period={day}")
        print(f"   Statistics at Hekou for {day} ({figures['time_zone']}): "
              f"{figures['items']} items, hotline reports "
              f"received {figures['hotline_reports_received']} (classified "
              f"{100 * (figures['hotline_reports_classified_share'] or 0):.0f} %), resolved "
              f"{100 * (figures['resolved_share'] or 0):.0f} %, overdue {figures['overdue']}")

        procs[HEKOU].stop()
        print("4. Hekou gateway stopped. Lào Cai officers keep sending:")
        later = [s for s in case_payloads() if s.sender == LAOCAI and s.answers is None][:3]
        queued = [clients[LAOCAI].send([HEKOU], s.payload.to_dict())["message_id"]
                  for s in later]
        _wait("a failed attempt", lambda: all(
            clients[LAOCAI].status(m)["deliveries"][0]["attempts"] > 0 for m in queued))
        for m in queued:
            st = clients[LAOCAI].status(m)["deliveries"][0]
            print(f"   {m}  {st['state']}, attempts {st['attempts']}, last error "
                  f"{st['error_code']}")
        procs[HEKOU].start()
        procs[HEKOU].wait_healthy(clients[HEKOU])
        took = _wait("catch-up", lambda: all(_delivered(clients[LAOCAI], m) for m in queued))
        print(f"5. Hekou gateway restarted: the {len(queued)} queued messages were delivered "
              f"{took:.1f} s after it came back; nothing lost, nothing twice")
        inbox = clients[HEKOU].inbox()
        ids = [r["message_id"] for r in inbox]
        assert len(ids) == len(set(ids)), "a message shows twice in the inbox"
        request = next(r for r in clients[LAOCAI].inbox() if r["type"] ==
                       "identification_request")
        shown = clients[LAOCAI].show(request["message_id"], lang)
        print(f"6. Lào Cai opens the identification request from Hekou ({lang}):\n")
        print(shown["text"])
        health = clients[LAOCAI].health()
        peer = health["peers"][HEKOU]
        print(f"7. Health of the Lào Cai gateway: store {health['store']}, Hekou reachable "
              f"{peer['reachable']}, backlog {peer['backlog']}, clock skew "
              f"{peer['clock_skew_ms']} ms")

        def cosigned(office: str, other: str) -> bool:
            h = clients[office].health()
            return bool(h["peers"][other]["cosigned_our_log_to"] >= h["audit"]["size"] - 2
                        and h["peers"][other]["cosigned_our_log_to"] > 0)

        _wait("cross-border cosigning", lambda: cosigned(LAOCAI, HEKOU) and
              cosigned(HEKOU, LAOCAI))
        bundles = []
        for office, short in ((LAOCAI, "laocai"), (HEKOU, "hekou")):
            out = folder / f"audit-{short}.tar"
            m = export_bundle(procs[office].home, out)
            bundles.append(out)
            size = clients[office].health()["peers"][HEKOU if office == LAOCAI else LAOCAI][
                "cosigned_our_log_to"]
            print(f"8. Audit log of {office}: {m['size']} entries, checkpoint of size {size} "
                  f"cosigned by the other side; exported to {out.name}")
        report = verify_bundles(bundles, net.roots)
        print("9. An auditor verifies both bundles offline (blo-gateway audit verify "
              "audit-laocai.tar audit-hekou.tar):\n")
        print(render_report(report, lang))
        if not report.ok:
            raise TimeoutError(f"audit verification failed: {report.problems[0]}")
        print("demo complete: the case walked end to end (every message type both ways with "
              "signed receipts, a handover record signed by both gateways, statistics); "
              "delivery resumed after an outage; both audit logs cosigned across the border "
              "and verified offline", flush=True)
        if serve:
            _serve(procs, ports)
        return 0
    finally:
        for p in procs.values():
            p.stop()
