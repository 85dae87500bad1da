"""Shared fixtures: a provisioned network of offices and a fixed clock."""

from __future__ import annotations

import os
import re
import time

import pytest

from gateway.cli.demo import PORT_RANGE_ENV
from gateway.cli.provision import Network, provision

# pytest-xdist workers (gw0, gw1, ...) each reserve loopback ports from their own slice of
# the range below the kernel's ephemeral ports, so two workers never pick the same port;
# subprocesses (gateways, tools) inherit the variable.
if m := re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", "")):
    _workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    _low, _high = 20000, 32000
    _share = (_high - _low) // max(1, _workers)
    _start = _low + int(m[1]) * _share
    os.environ[PORT_RANGE_ENV] = f"{_start}-{_start + _share}"
from gateway.protocol.identity import Directory


@pytest.fixture(scope="session")
def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="session")
def net(now_ms: int) -> Network:
    return provision(now_ms)


@pytest.fixture(scope="session")
def directory(net: Network) -> Directory:
    return net.directory()
