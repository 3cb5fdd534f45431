"""One thread at a time in an effect's or a chain's Python state (the rate converter, the
stream of stages), as the kernel's own lock keeps one thread at a time in a model: a second
thread is refused, not let in to corrupt it."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

Method = TypeVar("Method", bound=Callable[..., Any])


def one_thread(what: str) -> Callable[[Method], Method]:
    """Guards a method with the instance's `_busy` (a threading.RLock: the same thread may nest
    calls, as Chain.process calls reset and flush)."""
    def wrap(method: Method) -> Method:
        @functools.wraps(method)
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._busy.acquire(blocking=False):
                raise RuntimeError(f"{what} is being processed by another thread; use one {what} per thread")
            try:
                return method(self, *args, **kwargs)
            finally:
                self._busy.release()
        return guarded  # type: ignore[return-value]
    return wrap
