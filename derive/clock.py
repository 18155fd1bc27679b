"""A wall-clock limit for a block of code (verify's claims, user templates)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def time_limit(seconds: float | None, error: type[BaseException]) -> Iterator[None]:
    """Raise ``error`` inside the block after ``seconds`` (SIGALRM, main thread only). Elsewhere (a worker thread),
    or while an outer limit's alarm is pending (that one is left alone), the block runs without a clock and only
    the size limits bound it."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        # Python drops an exception raised while a gc callback or __del__ runs: ring again until one gets through
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise error()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
