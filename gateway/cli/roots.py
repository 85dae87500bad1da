"""``roots``: a root rotation (build, sign, verify a root set; docs/wire-format.md §3.4).

A root set names the trust roots after the rotation (the retiring country's new root, the
other country's root unchanged, or both new) and the next version. It takes effect only with
the signatures of both roots in force and of every new root, and is installed with the first
directory the new roots signed: ``blo-gateway directory install DIR --root-set FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.protocol.identity import RootSigner, TrustRoots, fingerprint
from gateway.protocol.rootset import (
    build_root_set,
    next_roots,
    read_root_set,
    sign_root_set,
    verify_root_set,
)

__all__ = ["cmd_roots_build", "cmd_roots_sign", "cmd_roots_verify"]


def cmd_roots_build(a: argparse.Namespace) -> int:
    current = TrustRoots.load(Path(a.roots))
    new_keys = [r for f in a.new for r in TrustRoots.load(Path(f), require_both=False).roots]
    roots = next_roots(current, new_keys)
    Path(a.out).write_bytes(build_root_set(roots))
    print(f"unsigned root set version {roots.version} (replacing version {current.version}): "
          f"{a.out}; now sign it with both current root keys and every new one "
          "(blo-gateway roots sign)")
    _print_roots(roots)
    return 0


def cmd_roots_sign(a: argparse.Namespace) -> int:
    signer = RootSigner.load(Path(a.root_key))
    data = sign_root_set(Path(a.file).read_bytes(), signer)
    Path(a.out or a.file).write_bytes(data)
    print(f"signed by {signer.country} root {signer.key_id}: {a.out or a.file}")
    return 0


def cmd_roots_verify(a: argparse.Namespace) -> int:
    current = TrustRoots.load(Path(a.roots))
    data = Path(a.file).read_bytes()
    proposed = read_root_set(data)
    print(f"root set version {proposed.version}:")
    _print_roots(proposed)
    new = verify_root_set(data, current)
    if new is current:
        print(f"these are the roots in force (version {current.version}); nothing to change")
    else:
        print(f"signed by both roots of version {current.version} and every new root: it may "
              f"replace version {current.version}")
    if a.out:
        Path(a.out).write_text(new.to_json(), encoding="utf-8")
        print(f"trust roots version {new.version} written to {a.out}")
    return 0


def _print_roots(roots: TrustRoots) -> None:
    for r in roots.roots:
        print(f"  {r.country} {r.key_id}\n    fingerprint {fingerprint(r.public_key)}")
        if r.pq_key_id:
            print(f"    hybrid: ML-DSA-65 half {r.pq_key_id}\n"
                  f"    fingerprint {fingerprint(r.pq_public_key)}")
