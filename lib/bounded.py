"""Wait for a call no longer than a set time: a server that accepts a connection and then never
answers (a frozen database, a port that is not a Dask scheduler) would otherwise hold its caller, a
page or a command, for minutes. The call runs on a daemon thread of its own, which is left to end by
itself when the other side answers, or with the process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def within(seconds: float, call: Callable[[], T], name: str = "carelab-bounded") -> T:
    """`call()`'s result, or the exception it raised, raised here; TimeoutError if it has not finished
    in `seconds`."""
    done: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            done.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            done.append((False, exc))

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(seconds)
    if not done:
        raise TimeoutError(f"no answer within {seconds:g} s")
    finished, value = done[0]
    if not finished:
        raise value  # type: ignore[misc] - an exception, as run() stored it
    return value  # type: ignore[return-value]
