"""Per-stage timings of one question, for `python -m eval.profile`.

Stages record only inside `profiled()`, so the service pays one context-variable read per stage and nothing else.
A context variable (not a global) keeps concurrent requests' records apart; generators record into the context of
whoever iterates them.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_record: ContextVar[dict[str, object] | None] = ContextVar("rag_stage_record", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Adds the block's wall time (ms) to `name` in the active record."""
    record = _record.get()
    if record is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        record[name] = record.get(name, 0.0) + (time.perf_counter() - start) * 1000


def note(name: str, value: float) -> None:
    """Adds `value` (a count, or a time measured elsewhere) to `name` in the active record."""
    record = _record.get()
    if record is not None:
        record[name] = record.get(name, 0.0) + value


def keep(name: str, value: object) -> None:
    """Keeps an object (e.g. the answer's generation stats) under `name` in the active record."""
    record = _record.get()
    if record is not None:
        record[name] = value


@contextmanager
def profiled() -> Iterator[dict[str, object]]:
    """Records the stages run inside the block; yields the record (stage -> ms, a count, or a kept object)."""
    record: dict[str, object] = {}
    token = _record.set(record)
    try:
        yield record
    finally:
        _record.reset(token)
