"""What the HTTP service shares between requests: the pipeline, its readiness, the generation queue, and the lock
that keeps document updates and questions from seeing half-swapped indexes."""
from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import AsyncIterator, Callable, Iterator

from index.build import IndexReport
from index.document import Document, IngestError
from index.remote import RemoteUnavailable
from index.store import IndexStore, sweep, write_lock
from rag.config import Settings
from rag.conversation.session import PriorTurn, answer_follow_up, make_rewriter
from rag.pipeline import Event, RagPipeline
from rag.retrieval.stores import store_location
from rag.text.textnorm import stems

log = logging.getLogger("rag.api")


class QueueFull(Exception):
    """More questions than RAG_MAX_QUEUE are waiting; answered 503 with Retry-After."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy ({retry_after}s)")
        self.retry_after = retry_after


class TooManyDocuments(Exception):
    pass


class RWLock:
    """Many readers (questions, searches) or one writer (a document update), writers first: a waiting update
    holds back new readers, so it waits for at most the questions already running."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class GenerationQueue:
    """Questions run on one dedicated worker thread (the model is one shared state), never on the event loop.
    At most `capacity` are admitted at once (running + waiting); past that, `admit` raises QueueFull at once
    instead of letting requests pile up."""

    def __init__(self, capacity: int, workers: int = 1):
        self.capacity = max(1, capacity)
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="generate")
        self._lock = threading.Lock()
        self._pending = 0
        self._avg_seconds = 3.0  # moving average of one question's time, for Retry-After
        self.on_change: Callable[[int], None] = lambda depth: None

    @property
    def depth(self) -> int:
        return self._pending

    def retry_after(self) -> int:
        return max(1, math.ceil(self._avg_seconds * max(1, self._pending) / self.workers))

    def _admit(self) -> None:
        with self._lock:
            if self._pending >= self.capacity:
                raise QueueFull(self.retry_after())
            self._pending += 1
            depth = self._pending
        self.on_change(depth)

    def _release(self, seconds: float | None) -> None:
        with self._lock:
            self._pending -= 1
            depth = self._pending
            if seconds is not None:
                self._avg_seconds = 0.8 * self._avg_seconds + 0.2 * seconds
        self.on_change(depth)

    def events(self, make_events: Callable[[], Iterator[Event]], guard: Callable[[], object]) -> AsyncIterator[Event]:
        """Admit now (or raise QueueFull), then run `make_events()` on the worker and relay its events to the event
        loop as they come. Closing the returned iterator (a client gone) stops the work at the next event."""
        self._admit()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def put(item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (shutdown): nobody is listening
                cancelled.set()

        def work() -> None:
            started = time.perf_counter()
            seconds = None
            try:
                if cancelled.is_set():
                    return
                with guard():
                    events = make_events()
                    try:
                        for event in events:
                            put(event)
                            if cancelled.is_set():
                                break
                    finally:
                        events.close()
                seconds = time.perf_counter() - started
            except BaseException as exc:  # relayed to the request that asked
                put(_Failure(exc))
            finally:
                self._release(seconds)
                put(_END)

        try:
            self._executor.submit(work)
        except RuntimeError:  # shutting down
            self._release(None)
            raise QueueFull(self.retry_after()) from None
        return self._relay(queue, cancelled)

    @staticmethod
    async def _relay(queue: asyncio.Queue, cancelled: threading.Event) -> AsyncIterator[Event]:
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            cancelled.set()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class ServiceState:
    """The pipeline and its readiness; models load in a background thread so the server answers at once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.pipeline = RagPipeline(settings)  # the embedder and the generator each serialise their own calls
        self.rewriter = make_rewriter(self.pipeline)
        self.ready = threading.Event()
        self.error: str | None = None
        self.waiting: str | None = None  # why start-up is waiting (a remote server down), for /readyz
        self.index_lock = RWLock()
        self._write_mutex = threading.Lock()
        self.queue = GenerationQueue(settings.max_queue)
        self.started = time.time()

    # ---- start-up ----------------------------------------------------------------------------------------------------
    def load(self, retry_s: float = 5.0) -> None:
        self.sweep()
        while True:
            try:
                if self.settings.create_index and not store_location(self.settings).exists():
                    report = self.pipeline.indexer.index_documents([])
                    log.info("created an empty index at %s (%s)", self.settings.index_dir, report.summary())
                self.pipeline.warm_up()
                self.ready.set()
                log.info("models loaded; ready")
                return
            except RemoteUnavailable as exc:  # a remote embedder not up yet: keep trying, /readyz says why
                self.waiting = str(exc)
                log.warning("start-up waits: %s", exc)
                time.sleep(retry_s)
            except Exception as exc:  # reported by /readyz, never a crash loop
                self.error = str(exc)
                log.error("start-up failed: %s", exc)
                return

    def sweep(self) -> None:
        """Remove what a write killed mid-way left in the index folder (index/store.py: sweep)."""
        index_dir = self.settings.index_dir
        if not index_dir.is_dir():
            return
        try:
            with write_lock(index_dir):
                removed = sweep(index_dir)
        except OSError as exc:  # a read-only index still serves
            log.warning("cannot sweep %s: %s", index_dir, exc.strerror or exc)
            return
        if removed:
            log.warning("removed %d leftovers of an interrupted write from %s: %s", len(removed), index_dir,
                        ", ".join(removed))

    @property
    def store(self) -> IndexStore:
        return self.pipeline.store

    def remote_readiness(self, answers: bool = True) -> tuple[bool, str | None]:
        """Whether the remote servers in use (embedder; generator too for `answers`) answered last time, and what
        /readyz says about them. No request is made here: a server marked down is probed in the background."""
        parts = [self.pipeline.embedder] + ([self.pipeline.generator] if answers else [])
        usable, lines = True, []
        for part in parts:
            check = getattr(part, "readiness", None)
            if check is not None:
                ok, line = check()
                usable, lines = usable and ok, lines + [line]
        return usable, "; ".join(lines) or None

    # ---- questions ---------------------------------------------------------------------------------------------------
    def stream(self, question: str, top_k: int | None, retrieval_query: str | None = None,
               history: list[PriorTurn] | None = None) -> AsyncIterator[Event]:
        """The pipeline's events for one question, generated off the event loop under the index read lock. With a
        `history`, a follow-up is first rewritten as `rag chat` does it (a rewrite event comes first)."""
        if history:
            return self.queue.events(
                lambda: answer_follow_up(self.pipeline, self.rewriter, question, history, top_k), self.index_lock.read
            )
        return self.queue.events(
            lambda: self.pipeline.stream(question, top_k, retrieval_query=retrieval_query), self.index_lock.read
        )

    # ---- documents ---------------------------------------------------------------------------------------------------
    def update_documents(self, documents: list[Document], delete: list[str] = ()) -> IndexReport:
        """Add, replace or delete documents: only the changed ones are embedded, the new generation is saved
        atomically (index/store.py), then the live index is swapped while no question is using it. Questions keep
        reading the live index while the update embeds and saves: it lives in memory, not in the files replaced."""
        language = self.pipeline.retriever.bm25.language if self.pipeline.retriever else "french"
        for doc in documents:
            if not stems(doc.text, language):
                raise IngestError(f"{doc.doc_id}: no searchable words in the text (only symbols, digits or stop words)")
        with self._write_mutex:
            new = {d.doc_id for d in documents} - set(self.store.docs)
            if new and len(self.store.docs) + len(new) > self.settings.max_documents:
                raise TooManyDocuments(
                    f"the index holds {len(self.store.docs)} documents; the limit is {self.settings.max_documents}"
                )
            report = self.pipeline.indexer.index_documents(documents, delete=list(delete))
            with self.index_lock.write():
                self.pipeline.reload_index()
            return report
