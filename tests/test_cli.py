"""The key ceremony, directory and messages driven through the real command line."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from gateway.protocol.scenario import case_payloads


def run(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, capture_output=True,
                       text=True, check=False, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def test_key_ceremony_seal_open_render(tmp_path):
    w = tmp_path
    run("keys", "root-create", "--country", "VN", "--private", "priv/vn-root.json",
        "--roots", "roots.json", "--name-vi", "Khóa gốc VN", cwd=w)
    # One root alone is not a usable trust set yet.
    r = run("directory", "verify", "x", "--roots", "roots.json", cwd=w, ok=False)
    assert r.returncode == 2 and "error" in r.stderr
    run("keys", "root-create", "--country", "CN", "--private", "priv/cn-root.json",
        "--roots", "roots.json", "--name-zh", "中国根密钥", cwd=w)
    r = run("keys", "root-create", "--country", "CN", "--private", "priv/cn2.json",
            "--roots", "roots.json", cwd=w, ok=False)
    assert "BAD_CONFIG" in r.stderr
    for office, country, vi, zh in (("vn.laocai.blo", "VN", "BLO Lào Cai", "老街边境联络官办公室"),
                                    ("cn.yunnan.hekou.blo", "CN", "BLO Hà Khẩu", "河口边境联络官办公室")):
        out = run("keys", "create", "--office", office, "--country", country, "--name-vi", vi,
                  "--name-zh", zh, "--role", "liaison_office", "--private",
                  f"priv/{office}.json", "--public", f"{office}.office.json", cwd=w).stdout
        assert "fingerprint" in out
        assert stat.S_IMODE((w / "priv" / f"{office}.json").stat().st_mode) == 0o600
        public = (w / f"{office}.office.json").read_text()
        assert "secret" not in public and "PRIVATE" not in public
    run("directory", "build", "--office", "vn.laocai.blo.office.json", "--office",
        "cn.yunnan.hekou.blo.office.json", "--serial", "1", "--out", "dir.bin", cwd=w)
    run("directory", "sign", "dir.bin", "--root-key", "priv/vn-root.json", cwd=w)
    r = run("directory", "verify", "dir.bin", "--roots", "roots.json", cwd=w, ok=False)
    assert r.returncode == 2 and "BAD_DIRECTORY" in r.stderr and "CN" in r.stderr
    run("directory", "sign", "dir.bin", "--root-key", "priv/cn-root.json", cwd=w)
    assert "verify" in run("directory", "verify", "dir.bin", "--roots", "roots.json", cwd=w).stdout
    shown = run("directory", "show", "dir.bin", "--roots", "roots.json", cwd=w).stdout
    assert "河口边境联络官办公室" in shown and "ed25519:" in shown
    listing = json.loads(run("directory", "show", "dir.bin", "--roots", "roots.json", "--json",
                             cwd=w).stdout)
    assert len(listing["offices"]) == 2 and len(listing["signatures"]) == 2

    step = case_payloads()[0]
    (w / "report.json").write_text(json.dumps(step.payload.to_dict(), ensure_ascii=False))
    common = ["--directory", "dir.bin", "--roots", "roots.json"]
    run("seal", "report.json", "--to", "cn.yunnan.hekou.blo", "--out", "msg.bloe",
        "--keyring", "priv/vn.laocai.blo.json", *common, cwd=w)
    opened = run("open", "msg.bloe", "--keyring", "priv/cn.yunnan.hekou.blo.json", "--json",
                 *common, cwd=w).stdout
    assert json.loads(opened) == step.payload.to_dict()
    zh = run("render", "msg.bloe", "--lang", "zh", "--keyring",
             "priv/cn.yunnan.hekou.blo.json", *common, cwd=w).stdout
    assert "热线举报" in zh and "举报人" in zh and "Tin báo" not in zh
    vi = run("render", "report.json", "--lang", "vi", cwd=w).stdout
    assert "Tin báo đường dây nóng" in vi and "热线" not in vi
    both = run("render", "report.json", cwd=w).stdout
    assert all("│" in line for line in both.splitlines())
    # The sender cannot open what it sealed for Hekou.
    r = run("open", "msg.bloe", "--keyring", "priv/vn.laocai.blo.json", *common, cwd=w, ok=False)
    assert "NOT_A_RECIPIENT" in r.stderr
    # Rotation keeps the file private and adds keys.
    run("keys", "rotate", "--keyring", "priv/vn.laocai.blo.json", "--public",
        "vn.laocai.blo.office.json", cwd=w)
    assert stat.S_IMODE((w / "priv" / "vn.laocai.blo.json").stat().st_mode) == 0o600
    shown = run("keys", "show", "--keyring", "priv/vn.laocai.blo.json", cwd=w).stdout
    secrets = [k["secret"] for k in json.loads((w / "priv" / "vn.laocai.blo.json").read_text())
               ["keys"]]
    assert shown.count("ed25519:") == 2 and not any(sec in shown for sec in secrets)


def test_help_texts(tmp_path):
    top = run("--help", cwd=tmp_path).stdout
    for cmd in ("demo", "render", "keys", "directory", "seal", "open"):
        assert cmd in top


def test_malformed_payload_file_gets_a_code(tmp_path):
    (tmp_path / "p.json").write_text('{"type": "hotline_report", "body": {"nonsense": 1}}')
    r = run("render", "p.json", cwd=tmp_path, ok=False)
    assert r.returncode == 2 and r.stderr.startswith("error MALFORMED")


def test_directory_build_refuses_a_key_id_that_does_not_match_its_key(tmp_path):
    w = tmp_path
    run("keys", "create", "--office", "vn.laocai.blo", "--country", "VN", "--name-vi", "BLO",
        "--name-zh", "BLO", "--role", "liaison_office", "--private", "priv/lc.json",
        "--public", "lc.office.json", cwd=w)
    entry = json.loads((w / "lc.office.json").read_text())
    entry["keys"][0]["key_id"] = "ed25519:" + "0" * 32
    (w / "forged.office.json").write_text(json.dumps(entry))
    r = run("directory", "build", "--office", "forged.office.json", "--serial", "1", "--out",
            "dir.bin", cwd=w, ok=False)
    assert r.returncode == 2 and r.stderr.startswith("error BAD_DIRECTORY")
    assert "does not match its key" in r.stderr and not (w / "dir.bin").exists()
