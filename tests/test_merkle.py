"""The Merkle tree against the transparency-dev RFC 6962 vectors, and at every size 0..1000."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from gateway.audit.merkle import (
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

VEC = Path(__file__).parent / "vectors" / "rfc6962-merkle"


def _b(s):
    return base64.b64decode(s) if s is not None else b""


def _load(kind):
    return sorted((VEC / kind).rglob("*.json"))


@pytest.mark.parametrize("path", _load("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path):
    v = json.loads(path.read_text())
    try:
        verify_inclusion(_b(v["leafHash"]), v["leafIdx"], v["treeSize"],
                         [_b(p) for p in v["proof"] or []], _b(v["root"]))
    except ProofError:
        assert v["wantErr"], v["desc"]
    else:
        assert not v["wantErr"], v["desc"]


@pytest.mark.parametrize("path", _load("consistency"),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(path):
    v = json.loads(path.read_text())
    try:
        verify_consistency(v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]),
                           [_b(p) for p in v["proof"] or []])
    except ProofError:
        assert v["wantErr"], v["desc"]
    else:
        assert not v["wantErr"], v["desc"]


def test_vectors_are_all_there():
    assert len(_load("inclusion")) + len(_load("consistency")) == 196


def _reference_root(leaves: list[bytes]) -> bytes:
    """MTH written straight from RFC 6962 §2.1, for comparison."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    from gateway.audit.merkle import node_hash

    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def test_proofs_at_every_size_up_to_1000():
    t = MemoryTree()
    hashes = []
    rng = random.Random(6962)
    roots = [t.root()]
    for n in range(1, 1001):
        h = leaf_hash(n.to_bytes(4, "big"))
        hashes.append(h)
        t.append_hash(h)
        roots.append(t.root())
        if n <= 64 or n % 97 == 0:
            assert roots[n] == _reference_root(hashes)
        for i in {0, n - 1, rng.randrange(n)}:
            verify_inclusion(hashes[i], i, n, inclusion_proof(t, i, n), roots[n])
        for m in {1, n - 1, n, rng.randrange(1, n + 1)} - {0}:
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(t, m, n))
    # Historical roots are recomputable from the stored nodes.
    for m in (1, 2, 3, 255, 256, 257, 999):
        assert t.root(m) == roots[m]


def test_random_large_trees_and_tampering():
    rng = random.Random(9162)
    t = MemoryTree()
    for i in range(70_000):
        t.append(i.to_bytes(8, "big"))
    n = t.size
    root = t.root()
    for _ in range(50):
        i = rng.randrange(n)
        proof = inclusion_proof(t, i, n)
        verify_inclusion(leaf_hash(i.to_bytes(8, "big")), i, n, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(b"other"), i, n, proof, root)
        m = rng.randrange(1, n)
        cp = consistency_proof(t, m, n)
        verify_consistency(m, n, t.root(m), root, cp)
        bad = list(cp)
        bad[rng.randrange(len(bad))] = bytes(32)
        with pytest.raises(ProofError):
            verify_consistency(m, n, t.root(m), root, bad)
