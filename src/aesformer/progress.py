"""Progress reporting for long work: a rich bar on a terminal, plain log lines elsewhere.

Under Prefect, DVC or CI the output is not a terminal; a bar would be noise there, so every
``every`` percent a line ``<description>: i/n`` is logged instead. Prefect captures it through
the task's log stream.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("aesformer.progress")


def track(
    items: Iterable[T], description: str, total: int | None = None, every: int = 10
) -> Iterator[T]:
    """Yield ``items`` while reporting progress (rich bar on a TTY, else log lines)."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if sys.stderr.isatty():
        from rich.progress import track as rich_track

        yield from rich_track(items, description=description, total=total, transient=False)
        return
    step = max(1, (total or 0) * every // 100)
    for done, item in enumerate(items, start=1):
        yield item
        if total and (done % step == 0 or done == total):
            log.info("%s: %d/%d", description, done, total)
        elif not total and done % 10 == 0:
            log.info("%s: %d", description, done)
