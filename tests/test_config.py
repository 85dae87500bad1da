"""gateway.toml is checked key by key at load: type and range, each error naming the file, the
key and what is allowed; ``blo-gateway config check`` lists every problem at once."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli.provision import provision
from gateway.node.config import Config, config_problems, load_config, render_config
from gateway.node.home import init_home
from gateway.protocol.errors import ConfigError
from gateway.protocol.scenario import LAOCAI


def write(home: Path, extra: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "gateway.toml").write_text(f'office_id = "{LAOCAI}"\n{extra}\n', encoding="utf-8")
    return home


BAD = [  # (TOML, key named in the error, what the error says is allowed)
    ('peer_port = "8443"', "peer_port", "an integer from 0 to 65535"),
    ("peer_port = 70000", "peer_port", "an integer from 0 to 65535"),
    ("api_port = 8080.0", "api_port", "an integer"),
    ("batch_size = -3", "batch_size", "an integer from 1 to 256"),
    ("batch_size = 300", "batch_size", "an integer from 1 to 256"),  # a peer takes 256 at most
    ('max_skew_ms = "5 minutes"', "max_skew_ms", "an integer from 1000"),
    ("peer_rate = 0", "peer_rate", "a number greater than 0"),
    ("request_timeout_s = nan", "request_timeout_s", "a number greater than 0"),
    ("retention_days = -1.5", "retention_days", "a number at least 0"),
    ("peer_burst = true", "peer_burst", "an integer at least 1"),
    ('time_zone = "Asia/Hanoi"', "time_zone", "IANA"),
    ('time_zone = "UTC+7"', "time_zone", "IANA"),
    ('database_schema = "Robert\'); DROP"', "database_schema", "lower-case letters"),
    ("keyring = 3", "keyring", "a string"),
    ('peer_urls = "https://x"', "peer_urls", "a table"),
    ('[peer_urls]\n"cn.yunnan.hekou.blo" = 8443', 'peer_urls."cn.yunnan.hekou.blo"', "a string"),
    ('[peer_urls]\n"cn.yunnan.hekou.blo" = "ftp://x"', 'peer_urls."cn.yunnan.hekou.blo"',
     "https:// URL"),
    ('[deadline_hours]\n"case_notice.routine" = "5 days"', 'deadline_hours."case_notice.routine"',
     "a number greater than 0"),
    ('[deadline_hours]\n"case_notice.someday" = 5', 'deadline_hours."case_notice.someday"',
     "<type>.<routine|high|urgent>"),
    ("[batch_size]\nx = 1", "batch_size", "an integer"),  # a table where a number belongs
    ("retry_base_ms = 5000\nretry_cap_ms = 1000", "retry_base_ms", "must not exceed retry_cap_ms"),
    ('tls_cert = "cert.pem"', "tls_key", "together"),
    ("colour = 3", "colour", "unknown setting"),
    ("web_session_idle_minutes = 0", "web_session_idle_minutes", "a number greater than 0"),
    ("web_session_lifetime_hours = 200", "web_session_lifetime_hours",
     "greater than 0 and at most 168"),
    ("web_session_idle_minutes = 120\nweb_session_lifetime_hours = 1",
     "web_session_idle_minutes", "must not exceed web_session_lifetime_hours"),
]


@pytest.mark.parametrize(("toml", "key", "allowed"), BAD, ids=[b[0] for b in BAD])
def test_each_kind_of_bad_value_is_refused_naming_file_key_and_allowed(tmp_path, toml, key,
                                                                      allowed):
    home = write(tmp_path, toml)
    with pytest.raises(ConfigError) as e:
        load_config(home)
    msg = e.value.message
    assert str(home / "gateway.toml") in msg and key in msg and allowed in msg, msg


def test_missing_office_id_and_bad_toml(tmp_path):
    (tmp_path / "gateway.toml").write_text("peer_port = 1\n", encoding="utf-8")
    assert config_problems(tmp_path) == [f"{tmp_path / 'gateway.toml'}: office_id is required"]
    (tmp_path / "gateway.toml").write_text("peer_port = \n", encoding="utf-8")
    assert "not valid TOML" in config_problems(tmp_path)[0]


def test_good_values_load_with_their_types(tmp_path):
    home = write(tmp_path, 'peer_rate = 5\ntime_zone = "Asia/Shanghai"\n'
                           '[deadline_hours]\n"case_notice.routine" = 120')
    cfg = load_config(home)
    assert cfg.peer_rate == 5.0 and isinstance(cfg.peer_rate, float)
    assert cfg.deadline_hours == {"case_notice.routine": 120.0}
    assert cfg.time_zone == "Asia/Shanghai"


def test_every_field_is_checked_and_its_default_passes_its_own_check(tmp_path):
    """A new field needs no code here: its annotation is checked (an annotation the checker
    does not know fails this test), and its default must satisfy it."""
    cfg = Config(home=tmp_path, office_id=LAOCAI)
    (tmp_path / "gateway.toml").write_text(render_config(cfg), encoding="utf-8")
    assert config_problems(tmp_path) == []
    assert load_config(tmp_path) == dataclasses.replace(cfg, home=tmp_path.resolve())
    names = {f.name for f in dataclasses.fields(Config)} - {"home"}
    for name in names:  # each key, given a value of the wrong kind, is refused
        write(tmp_path, f"{name} = [1]" if name != "office_id" else "")
        if name == "office_id":
            (tmp_path / "gateway.toml").write_text("office_id = [1]\n", encoding="utf-8")
        problems = config_problems(tmp_path)
        assert any(f"{name} = an array" in p or f"{name} is an array" in p
                   for p in problems), (name, problems)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def test_config_check_lists_every_problem_and_exits_1(tmp_path):
    net = provision(int(time.time() * 1000))
    home = tmp_path / "home"
    init_home(home, keyring=net.keyrings[LAOCAI], directory=net.directory_bytes, roots=net.roots)
    r = _cli("config", "check", "--home", str(home))
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
    text = (home / "gateway.toml").read_text(encoding="utf-8")
    text = (text.replace("peer_port = 8443", 'peer_port = "8443"')
                .replace("batch_size = 128", "batch_size = -3")
                .replace("peer_rate = 200.0", "peer_rate = 0"))
    (home / "gateway.toml").write_text(text, encoding="utf-8")
    r = _cli("config", "check", "--home", str(home))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout
    for key in ("peer_port", "batch_size", "peer_rate"):
        assert any(line.startswith(f"{home / 'gateway.toml'}: {key}") for line in lines), key
    # Types fine, but a file it names is missing: still a problem.
    (home / "gateway.toml").write_text(
        (home / "gateway.toml").read_text(encoding="utf-8").replace(
            'peer_port = "8443"', "peer_port = 8443").replace("batch_size = -3", "batch_size = 128")
        .replace("peer_rate = 0", "peer_rate = 200.0"), encoding="utf-8")
    (home / "roots.json").unlink()
    r = _cli("config", "check", "--home", str(home))
    assert r.returncode == 1 and "roots" in r.stdout and "no such file" in r.stdout
    # And the gateway itself refuses to start on a bad value, naming the key.
    (home / "gateway.toml").write_text(text, encoding="utf-8")
    r = _cli("serve", "--home", str(home))
    assert r.returncode == 2 and "BAD_CONFIG" in r.stderr and "peer_rate = 0" in r.stderr
