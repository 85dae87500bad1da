"""deploy/blo-gateway.service: the hardening is there, and systemd's own checker accepts the
unit without a single warning (an unknown or misspelt key is only a warning to systemd)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent / "deploy" / "blo-gateway.service"
HARDENING = ("UMask=0077", "NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true",
             "CapabilityBoundingSet=", "AmbientCapabilities=", "ProtectHome=true",
             "ReadWritePaths=/var/lib/blo-gateway", "RestrictAddressFamilies=",
             "SystemCallFilter=@system-service")


def test_unit_carries_the_hardening():
    lines = {line.strip() for line in UNIT.read_text().splitlines()}
    for directive in HARDENING:
        assert any(line.startswith(directive) for line in lines), directive
    assert "CapabilityBoundingSet=" in lines  # empty: every capability dropped


def test_systemd_analyze_verify_passes(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    # The unit as installed, pointing at this checkout's blo-gateway (verify checks that
    # ExecStart is an executable).
    exe = Path(sys.executable).parent / "blo-gateway"
    unit = tmp_path / "blo-gateway.service"
    unit.write_text(UNIT.read_text().replace("/opt/blo-gateway/.venv/bin/blo-gateway",
                                             str(exe)))
    res = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), \
        res.stdout + res.stderr
