"""RFC 6962 / RFC 9162 §2.1 Merkle trees: hashing, proofs, and their verification. No I/O.

Leaf hash ``SHA-256(0x00 ‖ data)``, node hash ``SHA-256(0x01 ‖ left ‖ right)``. A tree is
read through ``NodeReader``: the hash of every *complete* subtree (2^level leaves starting
at a multiple of 2^level) is stored once, so the hash of any range, and so any proof,
takes O(log² n) lookups whatever the size. Verification follows RFC 9162 §2.1.3.2 and
§2.1.4.2 and raises ``ProofError``; it never returns a bare bool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from gateway.protocol.errors import Malformed

__all__ = [
    "CompactRange",
    "MemoryTree",
    "NodeReader",
    "ProofError",
    "consistency_proof",
    "grow_levels",
    "inclusion_proof",
    "leaf_hash",
    "levels_root",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(Malformed):
    """A proof that does not verify, or inputs that cannot form one."""

    code = "BAD_PROOF"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class NodeReader(Protocol):
    def node(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree of 2^level leaves starting at index·2^level."""
        ...


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(t: NodeReader, start: int, end: int) -> bytes:
    """MTH of leaves [start, end)."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return t.node(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(_range_hash(t, start, start + k), _range_hash(t, start + k, end))


def root_hash(t: NodeReader, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else _range_hash(t, 0, size)


def inclusion_proof(t: NodeReader, index: int, size: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(_range_hash(t, start + k, end))
            end = start + k
        else:
            proof.append(_range_hash(t, start, start + k))
            start += k
    return proof[::-1]


def consistency_proof(t: NodeReader, old: int, new: int) -> list[bytes]:
    """RFC 6962 PROOF(old, D[0:new])."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    start, end, complete = 0, new, True
    m = old
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(_range_hash(t, start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(_range_hash(t, start + k, end))
            end = start + k
        else:
            proof.append(_range_hash(t, start, start + k))
            start += k
            m -= k
            complete = False
    return proof[::-1]


def _check(h: bytes, what: str) -> None:
    if len(h) != 32:
        raise ProofError(f"{what} is {len(h)} bytes, not 32")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``."""
    _check(leaf, "leaf hash")
    _check(root, "root hash")
    for p in proof:
        _check(p, "proof hash")
    if index >= size or index < 0:
        raise ProofError(f"index {index} is beyond tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check that the tree of size ``new`` extends the tree of size ``old``.

    As in transparency-dev/merkle (whose vectors this agrees with), a proof from the empty
    tree is meaningless and refused: a witness treats "old size 0" before calling this; and
    equal sizes are decided before any hash-length check."""
    if old <= 0:
        raise ProofError("no consistency proof from the empty tree")
    if new < old:
        raise ProofError(f"size {new} cannot extend size {old}")
    if old == new:
        if proof:
            raise ProofError("proof must be empty for equal sizes")
        if old_root != new_root:
            raise ProofError("same size, different roots: the log forked")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    _check(old_root, "old root")
    _check(new_root, "new root")
    for p in proof:
        _check(p, "proof hash")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


class CompactRange:
    """The right edge of a growing tree: enough to append and to compute the root, O(log n).

    ``append`` returns the complete-subtree nodes it completed, as (level, index, hash),
    so a store can persist them for proofs."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)  # roots of the perfect subtrees, largest first

    def append(self, lh: bytes) -> list[tuple[int, int, bytes]]:
        new = [(0, self.size, lh)]
        h, level, index = lh, 0, self.size
        while index & 1:
            h = node_hash(self.hashes.pop(), h)
            level += 1
            index >>= 1
            new.append((level, index, h))
        self.hashes.append(h)
        self.size += 1
        return new

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.hashes)


def grow_levels(levels: list[bytes]) -> list[bytes]:
    """Complete ``levels`` upwards: ``levels[k]`` is the concatenated hashes of the complete
    subtrees of 2^k leaves, left to right (``levels[0]`` the leaf hashes). Each level is one
    list comprehension of C hash calls (offline verification builds millions of nodes); a
    caller may hand in several levels already built for aligned chunks, joined."""
    sha = hashlib.sha256
    cur = levels[-1]
    while len(cur) >= 64:
        cur = b"".join([sha(b"\x01" + cur[i:i + 64]).digest()
                        for i in range(0, len(cur) - 63, 64)])
        levels.append(cur)
    return levels


def levels_root(levels: Sequence[bytes], size: int) -> bytes:
    """The root of the first ``size`` leaves of a tree held as ``grow_levels`` builds it."""
    if size < 0 or size * 32 > len(levels[0]):
        raise ProofError(f"size {size} is beyond the tree's {len(levels[0]) // 32} leaves")
    parts, offset = [], 0
    for level in range(size.bit_length() - 1, -1, -1):  # perfect subtrees, largest first
        if size >> level & 1:
            at = 32 * (offset >> level)
            parts.append(levels[level][at:at + 32])
            offset += 1 << level
    return CompactRange(size, parts).root()


class MemoryTree:
    """A tree held in memory (tests, benches, offline verification)."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]
        self.edge = CompactRange()

    @property
    def size(self) -> int:
        return self.edge.size

    def append_hash(self, lh: bytes) -> None:
        for level, index, h in self.edge.append(lh):
            if level == len(self.levels):
                self.levels.append([])
            assert len(self.levels[level]) == index
            self.levels[level].append(h)

    def append(self, data: bytes) -> None:
        self.append_hash(leaf_hash(data))

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return self.edge.root() if size is None else root_hash(self, size)
