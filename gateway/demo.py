"""The demo: offices and a co-signed directory, every message type sealed, verified and opened.

``blo-gateway demo`` provisions two root keys (VN, CN), the Lào Cai BLO, the
Hekou BLO and a Border Guard post, co-signs the directory, then walks the
invented case of shared/design/scenario.md: each message is sealed by its
sender, verified and opened by its recipient, and one is rendered in both
languages. Exit status 0 means every step checked out.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from gateway import envelope
from gateway.provision import provision
from gateway.render import render, render_header
from gateway.scenario import case_payloads

__all__ = ["run_demo"]


def run_demo(workdir: Path | None = None, lang: str = "both") -> int:
    with tempfile.TemporaryDirectory(prefix="blo-demo-") as tmp:
        folder = workdir or Path(tmp)
        now = int(time.time() * 1000)
        net = provision(now)
        net.write(folder)
        directory = net.directory()
        names = {o.office_id: (o.name_vi, o.name_zh) for o in directory.offices.values()}
        print(f"directory serial {directory.serial}: {len(directory.offices)} offices, "
              f"signed by the VN and CN roots ({folder})")
        shown = False
        for step in case_payloads():
            data = envelope.seal(step.payload, sender=net.keyrings[step.sender],
                                 recipients=step.recipients, directory=directory, now_ms=now)
            env = envelope.verify(data, directory, now_ms=now)
            for office in step.recipients:
                opened = envelope.open_envelope(env, net.keyrings[office])
                assert opened == step.payload
            print(f"  {step.payload.message_type.slug:<24} {step.sender} -> "
                  f"{', '.join(step.recipients)}  {len(data):>5} B  signature ok, opened")
            if not shown and step.payload.message_type.slug == "identification_request":
                print()
                print(render_header(env.header, lang, names))
                print(render(opened, lang))
                shown = True
        print("demo complete: every message type sealed, verified and opened")
    return 0
