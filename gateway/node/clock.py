"""Time as an injectable dependency: the system clock in production, a fake one in tests."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    def now_ms(self) -> int:
        """Unix time in milliseconds."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that moves only when told to (and can be skewed against another)."""

    def __init__(self, start_ms: int, offset_ms: int = 0) -> None:
        self._now = start_ms
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return self._now + self.offset_ms

    def advance(self, ms: int) -> None:
        self._now += ms
