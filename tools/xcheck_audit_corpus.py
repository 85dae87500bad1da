"""Cross-check the audit tamper corpus with an independent C2SP / RFC 6962 implementation.

    .venv/bin/python tools/xcheck_audit_corpus.py keys > /tmp/keys.json    # project venv
    OTHER_VENV/bin/python tools/xcheck_audit_corpus.py check /tmp/keys.json # pip install aics-tlog

``keys`` reads each bundle's directory, verified against the pinned roots.json, and writes the
office and witness keys as C2SP vkeys (the only step that uses this project's code). ``check``
then uses only the ``aics-tlog`` package (PyPI; needs Python >= 3.12): every checkpoint's log
signature and cosignature/v1 lines (quorum 1 of the other country's witnesses), the RFC 6962
root over the leaves at each checkpoint size, the newest checkpoint covering every leaf, the
origin fixed by the directory, and the peer's cosigned views against the leaves. It prints
one line per bundle: what the independent verifier refuses, next to expected.json.
"""

from __future__ import annotations

import base64
import json
import sys
import tarfile
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "audit-tamper"
PREFIX = b"blo-audit/v1\n"


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def keys() -> None:
    sys.path.insert(0, str(CORPUS.parents[2]))
    from gateway.audit.notes import key_id, log_origin, witness_name
    from gateway.protocol.errors import GatewayError
    from gateway.protocol.identity import ED25519, Directory, TrustRoots

    roots = TrustRoots.load(CORPUS / "roots.json")
    out = {}
    for path in sorted(CORPUS.glob("*.tar")):
        m = _members(path)
        exported = json.loads(m["manifest.json"])["exported_at_ms"]
        try:
            d = Directory.verify(m["directory.bin"], roots, now_ms=exported)
        except GatewayError as e:
            out[path.name] = {"error": f"directory: {e.code}"}
            continue

        def vkey(name: str, alg: int, pk: bytes) -> str:
            material = base64.b64encode(bytes([alg]) + pk).decode()
            return f"{name}+{key_id(name, alg, pk).hex()}+{material}"

        out[path.name] = {o.office_id: {
            "country": o.country, "origin": log_origin(o.office_id),
            "log": [vkey(log_origin(o.office_id), 0x01, k.public_key) for k in o.keys
                    if k.algorithm == ED25519],
            "witness": [vkey(witness_name(o.office_id), 0x04, k.public_key) for k in o.keys
                        if k.algorithm == ED25519]} for o in d.offices.values()}
    print(json.dumps(out, indent=1))


def check(keyfile: str) -> None:
    from aics_tlog.checkpoint import verify_checkpoint
    from aics_tlog.note import parse_note, parse_vkey
    from aics_tlog.tree import MerkleTree

    allkeys = json.loads(Path(keyfile).read_text())
    expected = json.loads((CORPUS / "expected.json").read_text())
    leaves_of: dict[str, list[bytes]] = {}
    for name in sorted(allkeys):
        m = _members(CORPUS / name)
        leaves_of[name] = [PREFIX + x for x in m["leaves.jsonl"].split(b"\n")[:-1]]
    for name in sorted(allkeys):
        problems = []
        keys = allkeys[name]
        m = _members(CORPUS / name)
        manifest = json.loads(m["manifest.json"])
        if "error" in keys:
            problems.append(keys["error"])
        else:
            office = keys[manifest["office"]]
            if manifest["origin"] != office["origin"]:
                problems.append("origin")
            witnesses = [parse_vkey(v) for o in keys.values() if o["country"] != office["country"]
                         for v in o["witness"]]
            tree = MerkleTree(leaves_of[name])
            covered, cosigned = 0, 0
            for text in json.loads(m["checkpoints.json"]):
                note = parse_note(text)
                res = None
                for lk in office["log"]:
                    r = verify_checkpoint(note, parse_vkey(lk), witnesses, 0,
                                          expected_origin=office["origin"])
                    if r.log_ok:
                        res = r
                        break
                if res is None or not res.ok:
                    problems.append(f"checkpoint: {res.error if res else 'no log signature'}")
                    continue
                assert res.size is not None
                if res.size > tree.size:
                    problems.append("truncated")
                elif tree.root(res.size) != res.root:
                    problems.append(f"root differs at {res.size}")
                else:
                    covered = max(covered, res.size)
                    if res.cosignature_count:
                        cosigned = max(cosigned, res.size)
            if covered < tree.size:
                problems.append("unsigned tail")
            if not cosigned:
                problems.append("not witnessed")
            if name != "hekou.tar":  # the peer's cosigned views of this log
                peer = _members(CORPUS / "hekou.tar")
                for w in json.loads(peer["witnessed.json"]):
                    if w["origin"] != office["origin"]:
                        continue
                    lines = w["note"].split("\n")
                    size, root = int(lines[1]), base64.b64decode(lines[2])
                    if size > tree.size:
                        problems.append("with peer: truncated")
                    elif tree.root(size) != root:
                        problems.append("with peer: split view")
        want = expected["altered"].get(name, {"alone": "PASS", "with_peer": "PASS"})
        print(f"{name:36} independent: {', '.join(sorted(set(problems))) or 'PASS':40} "
              f"ours: {want['alone']} / {want['with_peer']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["keys"]:
        keys()
    else:
        check(sys.argv[2])
