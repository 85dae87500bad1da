"""The officer API against a careless or hostile user: every input gets a 4xx with a stable
code, never a 500; the Host header must name the API; /health says little without a token.
Live gateways on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import quote

import aiohttp
import pytest
from harness import BACKENDS, Pair, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cli.client import OfficerClient
from gateway.cli.demo import GatewayProcess
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

ZERO_ID = "0" * 32


@pytest.fixture(params=BACKENDS)
async def live(request, tmp_path):
    """Lào Cai and Hekou running; one message from Lào Cai in Hekou's inbox."""
    pair = Pair(tmp_path, request.param)
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    async with aiohttp.ClientSession() as s:
        step = case_payloads()[3]
        sender = step.sender
        receiver = HEKOU if sender == LAOCAI else LAOCAI
        mid = await pair.officer(s, sender).send([receiver], step.payload.to_dict())

        async def arrived() -> bool:
            return any(m["message_id"] == mid for m in await pair.officer(s, receiver).inbox())

        await wait_for(arrived, what="delivery")
        yield pair, receiver, mid, s
    await pair.close()


def _bad_cases(mid: str) -> list[tuple[str, str, object, int, str]]:
    """(method, path, body, status, code): a user's mistakes and what they get."""
    deep = b"[" * 100_000 + b"]" * 100_000
    payload = case_payloads()[3].payload.to_dict()
    return [
        ("GET", "/api/v1/cases?due_hours=abc", None, 400, "MALFORMED"),
        ("GET", "/api/v1/cases?due_hours=%C2%B2", None, 400, "MALFORMED"),  # "²"
        ("GET", "/api/v1/cases?due_hours=nan", None, 400, "MALFORMED"),
        ("GET", "/api/v1/cases?due_hours=1e999", None, 400, "MALFORMED"),
        ("GET", "/api/v1/cases?due_hours=-1", None, 400, "MALFORMED"),
        ("GET", "/api/v1/cases?overdue=yes", None, 400, "MALFORMED"),
        ("GET", "/api/v1/cases?limit=%D9%A3", None, 400, "MALFORMED"),  # Arabic-Indic 3
        ("GET", "/api/v1/inbox?limit=%C2%B2", None, 400, "MALFORMED"),
        ("GET", "/api/v1/inbox?limit=0", None, 400, "MALFORMED"),
        ("GET", "/api/v1/inbox?limit=1&limit=2", None, 400, "MALFORMED"),
        ("GET", "/api/v1/inbox?colour=red", None, 400, "MALFORMED"),
        ("GET", "/api/v1/messages/%20" + mid[:31], None, 400, "MALFORMED"),
        ("GET", f"/api/v1/inbox/{mid}?lang=fr", None, 400, "MALFORMED"),
        ("GET", "/api/v1/stats?from=%EF%BC%92026-01-01&to=2026-02-01", None, 400, "MALFORMED"),
        ("GET", "/api/v1/stats?from=2026-01-01&to=2026-02-01&format=xml", None, 400,
         "MALFORMED"),
        ("GET", "/api/v1/stats", None, 400, "MALFORMED"),
        ("POST", "/api/v1/messages", deep, 400, "MALFORMED"),
        ("POST", "/api/v1/messages", b"\xff\xfe{}", 400, "MALFORMED"),
        ("POST", "/api/v1/messages", b"[]", 400, "MALFORMED"),
        ("POST", "/api/v1/messages", {"to": [1], "payload": payload}, 400, "MALFORMED"),
        ("POST", "/api/v1/messages", {"to": HEKOU, "payload": payload}, 400, "MALFORMED"),
        ("POST", "/api/v1/messages", {"to": [HEKOU, HEKOU], "payload": payload}, 400,
         "MALFORMED"),
        ("POST", "/api/v1/messages", {"to": [HEKOU], "payload": payload, "cc": []}, 400,
         "MALFORMED"),
        ("POST", "/api/v1/messages", {"to": [HEKOU], "payload": {"type": "hotline_report",
                                                                 "body": [1]}}, 400,
         "MALFORMED"),
        ("POST", "/api/v1/messages", {"to": [HEKOU], "payload": 7}, 400, "MALFORMED"),
        ("POST", "/api/v1/messages", b"x" * (9 * 1024 * 1024), 413, "TOO_LARGE"),
        ("POST", f"/api/v1/inbox/{mid}/forward", {"to": [1]}, 400, "MALFORMED"),
        ("POST", f"/api/v1/inbox/{mid}/forward", {"to": [{"a": 1}]}, 400, "MALFORMED"),
        ("POST", f"/api/v1/inbox/{mid}/forward", {"to": [None]}, 400, "MALFORMED"),
        ("POST", f"/api/v1/inbox/{mid}/forward", {"to": "x"}, 400, "MALFORMED"),
        ("POST", f"/api/v1/inbox/{mid}/forward", b"[" * 5000, 400, "MALFORMED"),
        ("POST", f"/api/v1/records/{mid}/countersign", {"x": 1}, 400, "MALFORMED"),
        ("GET", f"/api/v1/records/{ZERO_ID}?lang=xx", None, 400, "MALFORMED"),
        ("GET", "/api/v1/nothing", None, 404, "NOT_FOUND"),
        ("PUT", "/api/v1/messages", None, 405, "METHOD_NOT_ALLOWED"),
    ]


async def test_every_mistake_gets_a_4xx_with_a_code(live):
    pair, office, mid, s = live
    h = {"Authorization": f"Bearer {pair.tokens[office]['officer']}"}
    for method, path, body, status, code in _bad_cases(mid):
        kw = {"json": body} if isinstance(body, dict) else {"data": body}
        async with s.request(method, pair.api(office) + path, headers=h, **kw) as r:
            data = await r.json(content_type=None)
            assert (r.status, data["code"]) == (status, code), (method, path, r.status, data)
    # and the well-formed versions still work
    for path in ("/api/v1/cases?due_hours=24.5&limit=5", "/api/v1/cases?overdue=1",
                 "/api/v1/stats?from=2026-01-01&to=2026-02-01&format=csv",
                 f"/api/v1/inbox/{mid}?lang=vi", "/api/v1/messages?limit=1000"):
        async with s.get(pair.api(office) + path, headers=h) as r:
            assert r.status == 200, (path, await r.text())


async def test_host_header_must_name_this_api(live):
    pair, office, _, s = live
    h = {"Authorization": f"Bearer {pair.tokens[office]['officer']}"}
    port = pair.ports[office][1]
    for host, status in ((f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200),
                         ("127.0.0.2", 200), (f"[::1]:{port}", 200), ("LOCALHOST", 200),
                         (f"evil.example:{port}", 421), ("evil.example", 421),
                         (f"localhost.evil.example:{port}", 421), ("10.1.2.3", 421),
                         ("", 421), ("[::1", 421)):
        for path in ("/api/v1/inbox", "/health"):
            async with s.get(pair.api(office) + path, headers={**h, "Host": host}) as r:
                data = await r.json()
                assert r.status == status, (host, path, r.status, data)
                if status == 421:
                    assert data["code"] == "WRONG_DESTINATION"


async def test_health_says_little_without_a_token(live):
    pair, office, _, s = live
    async with s.get(pair.api(office) + "/health") as r:
        assert r.status == 200
        assert await r.json() in ({"status": "ok"}, {"status": "degraded"})
    for who in ("officer", "auditor"):
        h = {"Authorization": f"Bearer {pair.tokens[office][who]}"}
        async with s.get(pair.api(office) + "/health", headers=h) as r:
            full = await r.json()
            assert r.status == 200 and set(full["peers"]) and "backlog" in str(full)
    async with s.get(pair.api(office) + "/health",
                     headers={"Authorization": "Bearer not-a-real-token-at-all"}) as r:
        assert r.status == 401 and (await r.json())["code"] == "UNAUTHORIZED"


# ---------------------------------------------------------------------------- fuzzing

ROUTES = [("POST", "/api/v1/messages"), ("GET", "/api/v1/messages"),
          ("GET", "/api/v1/messages/{id}"), ("GET", "/api/v1/inbox"),
          ("GET", "/api/v1/inbox/{id}"), ("POST", "/api/v1/inbox/{id}/forward"),
          ("GET", "/api/v1/cases"), ("GET", "/api/v1/stats"), ("GET", "/api/v1/stats.pdf"),
          ("GET", "/api/v1/records/{id}"), ("GET", "/api/v1/records/{id}/pdf"),
          ("POST", "/api/v1/records/{id}/countersign"), ("GET", "/health")]
PARAMS = ["limit", "due_hours", "overdue", "lang", "from", "to", "format", "x", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["to", "payload", "type", "body", "context", "x"]) | st.text(max_size=8),
        kids, max_size=4),
    max_leaves=20)
query_value = st.one_of(st.text(max_size=12), st.integers().map(str),
                        st.sampled_from(["24", "1.5", "²", "٣", "2026-01-01", "both", "csv",
                                         "1", "0", "-1", "1e9", "%zz", "nan"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fuzz_every_officer_route_no_5xx(tmp_path, backend):
    """Random ids, query strings and bodies at every route of a live gateway (its own
    process): never a 5xx, never a traceback in its log."""
    pair = Pair(tmp_path, backend)
    procs = {o: GatewayProcess(pair.homes[o]) for o in (LAOCAI, HEKOU)}
    try:
        for office, proc in procs.items():
            proc.start()
            proc.wait_healthy(OfficerClient(pair.api(office), pair.tokens[office]["officer"]))
        step = case_payloads()[0]  # opens a case item on both sides
        receiver = HEKOU if step.sender == LAOCAI else LAOCAI
        mid = OfficerClient(pair.api(step.sender), pair.tokens[step.sender]["officer"]).send(
            [receiver], step.payload.to_dict())["message_id"]
        reader = OfficerClient(pair.api(receiver), pair.tokens[receiver]["officer"])
        deadline = time.monotonic() + 30
        while not (any(m["message_id"] == mid for m in reader.inbox())
                   and reader.cases()["cases"]):
            assert time.monotonic() < deadline, "delivery"
            time.sleep(0.1)
        port = pair.ports[receiver][1]
        tokens = pair.tokens[receiver]
        seen: dict[int, int] = {}

        @settings(max_examples=250, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(route=st.sampled_from(ROUTES),
               ident=st.sampled_from([mid, ZERO_ID, mid.upper(), "x", "%00", "%2e%2e", mid[:31]])
               | st.text(max_size=40).map(lambda t: quote(t, safe="")),
               query=st.lists(st.tuples(st.sampled_from(PARAMS), query_value), max_size=4),
               body=st.one_of(st.none(), json_values.map(lambda v: json.dumps(v).encode()),
                              st.binary(max_size=64),
                              st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n)),
               who=st.sampled_from(["officer"] * 5 + ["auditor", None, "bogus"]))
        def one(route, ident, query, body, who):
            method, path = route
            path = path.replace("{id}", ident)
            if query:
                path += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
            headers = {}
            if who == "bogus":
                headers["Authorization"] = "Bearer " + "A" * 43
            elif who:
                headers["Authorization"] = f"Bearer {tokens[who]}"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
            finally:
                conn.close()
            seen[r.status] = seen.get(r.status, 0) + 1
            assert r.status < 500, (method, path, body, r.status, data[:300])
            if r.status >= 400:
                assert json.loads(data)["code"]

        one()
        print("fuzz statuses", backend, sorted(seen.items()))
        assert len(seen) > 3, seen  # the inputs reached more than one kind of answer
    finally:
        for proc in procs.values():
            proc.stop()
    for office in (LAOCAI, HEKOU):
        log = (pair.homes[office] / "gateway.log").read_text()
        assert "Traceback" not in log and "internal_error" not in log
