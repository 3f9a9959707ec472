"""A thread-safe token bucket: the messages/s limit shared by all sessions of a transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` acquisitions per second on average, in bursts of at most `burst`.

    Each caller reserves the next free slot under the lock and sleeps outside it, so
    concurrent sessions queue fairly without holding the lock while waiting. `clock` and
    `sleep` are injectable so tests can drive time by hand.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit needs a positive rate, got {rate}")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    def reserve(self) -> float:
        """Take one token now (possibly on credit); return the seconds to wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        """Block until this caller may send one message."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
