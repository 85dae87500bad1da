"""Envelope throughput beside the raw crypto cost, measured in the same run.

    python bench/bench_envelope.py [--seconds 2]

Prints seal+sign and verify+open rates for a 2 KiB payload, the raw PyNaCl
Ed25519 sign / verify and crypto_box (X25519 + XSalsa20-Poly1305, fresh
ephemeral key each time) rates, and the ratio of our cost to the raw floor
(sign + box for sealing, verify + box-open for opening).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import nacl.public
import nacl.signing
import nacl.utils

from gateway.cli.provision import provision
from gateway.protocol import envelope
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    s = ap.parse_args().seconds
    now = int(time.time() * 1000)
    net = provision(now)
    d = net.directory()
    text = "x" * 2000
    payload = Payload(pb.CaseNotice(offence=pb.LocalizedText(vi=text[:1024], zh=text[:1000])))
    size = len(payload.to_bytes())
    sender, receiver = net.keyrings[LAOCAI], net.keyrings[HEKOU]
    sealed = envelope.seal(payload, sender=sender, recipients=[HEKOU], directory=d, now_ms=now)

    msg = nacl.utils.random(len(sealed))
    sk = nacl.signing.SigningKey.generate()
    sig = sk.sign(msg).signature
    rk = nacl.public.PrivateKey.generate()
    plain = nacl.utils.random(size)
    eph = nacl.public.PrivateKey.generate()
    eph_pub = eph.public_key
    boxed = nacl.public.Box(eph, rk.public_key).encrypt(plain)

    def raw_box() -> None:
        nacl.public.Box(nacl.public.PrivateKey.generate(), rk.public_key).encrypt(plain)

    raw = {
        "ed25519 sign": rate(lambda: sk.sign(msg), s),
        "ed25519 verify": rate(lambda: sk.verify_key.verify(msg, sig), s),
        "box (fresh X25519 + XSalsa20-Poly1305)": rate(raw_box, s),
        "box open": rate(lambda: nacl.public.Box(rk, eph_pub).decrypt(boxed), s),
    }
    ours = {
        "seal+sign": rate(lambda: envelope.seal(payload, sender=sender, recipients=[HEKOU],
                                                directory=d, now_ms=now), s),
        "verify+open": rate(lambda: envelope.open_envelope(
            envelope.verify(sealed, d, now_ms=now), receiver), s),
        "verify only": rate(lambda: envelope.verify(sealed, d, now_ms=now), s),
    }
    print(f"payload {size} B, envelope {len(sealed)} B, {s:.0f} s per figure")
    for k, v in raw.items():
        print(f"  raw {k:<40} {v:>9,.0f} /s  {1e6 / v:7.1f} us")
    for k, v in ours.items():
        print(f"  our {k:<40} {v:>9,.0f} /s  {1e6 / v:7.1f} us")
    floor_seal = 1 / raw["ed25519 sign"] + 1 / raw["box (fresh X25519 + XSalsa20-Poly1305)"]
    floor_open = 1 / raw["ed25519 verify"] + 1 / raw["box open"]
    print(f"  ratio seal+sign   / (raw sign + box)        "
          f"{1 / ours['seal+sign'] / floor_seal:5.2f}x")
    print(f"  ratio verify+open / (raw verify + box open) "
          f"{1 / ours['verify+open'] / floor_open:5.2f}x")
    print(f"  ratio verify only / raw verify             "
          f"{1 / ours['verify only'] * raw['ed25519 verify']:5.2f}x")


if __name__ == "__main__":
    main()
