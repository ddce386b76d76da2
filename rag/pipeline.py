"""The question-answering flow: retrieve → prompt → generate → verify citations (or abstain)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from index.build import Indexer
from index.chunk import ChunkerConfig
from index.embed import Embedder
from index.store import IndexStore
from rag.cite import verify
from rag.config import Settings
from rag.generate import Generation, Generator, make_generator
from rag.lang import detect_language
from rag.prompt import STYLES, build_messages, style_for
from rag.retrieve import HybridRetriever, RetrievedChunk
from rag.schema import Answer, Passage, Timings, Usage


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long, bad top_k); the message is one line for users."""


def make_embedder(settings: Settings) -> Embedder:
    return Embedder(settings.embedder, settings.embed_batch_size)


def make_indexer(settings: Settings, embedder: Embedder | None = None, index_dir: Path | None = None) -> Indexer:
    config = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens)
    return Indexer(index_dir or settings.index_dir, embedder or make_embedder(settings), config)


@dataclass
class Event:
    """One step of a streamed answer: passages, token, or done (with the full Answer)."""

    kind: str
    data: object


class RagPipeline:
    def __init__(self, settings: Settings, generator: Generator | None = None):
        self.settings = settings
        self.embedder = make_embedder(settings)
        self.indexer = make_indexer(settings, self.embedder)
        self.generator = generator or make_generator(settings)
        self.store: IndexStore | None = None
        self.retriever: HybridRetriever | None = None
        self._lock = threading.Lock()
        self._primed = False

    def warm_up(self, generator: bool = True) -> None:
        """Open the index (refusing a mismatched one) and load the models once."""
        with self._lock:
            if self.store is None:
                store = IndexStore.open(self.settings.index_dir)
                self.embedder.warm_up()
                store.manifest.check_compatible(
                    self.embedder.name, self.embedder.dimension, self.indexer.chunker_params(), self.settings.index_dir
                )
                self.store = store
                self.retriever = HybridRetriever(store, self.embedder, self.settings.candidates, self.settings.rrf_k)
                self.retriever.warm_up()
        if generator and not self._primed:
            self.generator.warm_up()
            for language in STYLES:
                self.generator.prime(build_messages("?", [], language))
            self._primed = True

    def reload_index(self) -> None:
        """Pick up changes another writer saved (e.g. `rag index` while serving)."""
        store = IndexStore.open(self.settings.index_dir)
        self.store = store
        self.retriever.refresh(store)

    # ---- validation --------------------------------------------------------------------------------------------------
    def check_question(self, question: str, top_k: int | None) -> tuple[str, int]:
        question = (question or "").strip()
        if not question:
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(f"the question is {len(question)} characters long; the limit is {self.settings.max_question_chars}")
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise QuestionError(f"top_k must be between 1 and {self.settings.max_top_k}")
        return question, k

    # ---- stages ------------------------------------------------------------------------------------------------------
    def retrieve(self, query: str, top_k: int | None = None, mode: str = "hybrid") -> list[Passage]:
        self.warm_up(generator=False)
        k = top_k or self.settings.top_k
        return [self._passage(n, hit) for n, hit in enumerate(self.retriever.run(query, k, mode), start=1)]

    @staticmethod
    def _passage(n: int, hit: RetrievedChunk) -> Passage:
        c = hit.chunk
        return Passage(n=n, doc_id=c.doc_id, chunk_id=c.chunk_id, start=c.start, end=c.end, text=c.text, score=round(hit.score, 6))

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        answer = None
        for event in self.stream(question, top_k):
            if event.kind == "done":
                answer = event.data
        return answer

    def stream(self, question: str, top_k: int | None = None) -> Iterator[Event]:
        """Yields passages, then tokens as the model emits them, then done with the verified Answer."""
        question, k = self.check_question(question, top_k)
        self.warm_up()
        started = time.perf_counter()
        passages = self.retrieve(question, k)
        retrieved = time.perf_counter()
        yield Event("passages", passages)
        language = detect_language(question)
        raw, generation = "", None
        if passages:
            pieces = []
            gen_start = time.perf_counter()
            first = None
            messages = build_messages(question, passages, language)
            for piece in self.generator.stream(messages, self.settings.max_new_tokens, stop=["\n\n", "Question"]):
                first = first or time.perf_counter() - gen_start
                pieces.append(piece)
                yield Event("token", piece)
            raw = "".join(pieces)
            seconds = time.perf_counter() - gen_start
            generation = Generation(raw, getattr(self.generator, "_last_prompt_tokens", 0), len(pieces), seconds, first or seconds)
        source_text = {p.doc_id: self.store.text_of(p.doc_id) for p in passages}
        verdict = verify(raw, question, passages, source_text)
        finished = time.perf_counter()
        answer = Answer(
            question=question,
            answer=style_for(language).unknown if verdict.abstained else verdict.answer,
            abstained=verdict.abstained,
            citations=verdict.citations,
            passages=passages,
            timings_ms=Timings(
                retrieve=round((retrieved - started) * 1000, 1),
                generate=round((finished - retrieved) * 1000, 1),
                total=round((finished - started) * 1000, 1),
            ),
            usage=Usage.from_generation(generation),
            raw_answer=raw,
            abstain_reason=verdict.reason or None,
        )
        yield Event("done", answer)
