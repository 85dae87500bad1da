"""Shared fixtures: a provisioned network of offices and a fixed clock."""

from __future__ import annotations

import time

import pytest

from gateway.cli.provision import Network, provision
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
