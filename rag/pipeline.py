"""The question-answering flow, as the steps a person would name: understand the question, retrieve and select the
evidence, generate, verify (or abstain), translate back. `RagPipeline.stream` runs them in that order; `ask` is the
same stream, read to its end."""
from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from index.build import IndexLimits, Indexer
from index.chunk import ChunkerConfig
from index.embed import Embedder
from index.embedders import make_embedder as make_embedder_named
from index.extract import ExtractLimits
from index.remote_embed import RemoteEmbedding
from index.store import IndexStore
from rag.checks.cite import UNNAMED, Verdict, extractive_answer, is_abstention, parse_markers
from rag.checks.judge import Draft, Judgement, judge
from rag.checks.polarity import is_yes_no_question, translate_yes_no
from rag.config import Settings
from rag.models.base import Generator, GenerationStats
from rag.models.generate import make_generator
from rag.models.grammar import span_grammar
from rag.prompt import STYLES, build_messages, style_for
from rag.retrieval.evidence import EvidenceSelector
from rag.retrieval.retrieve import HybridRetriever, RetrievedChunk
from rag.retrieval.stores import make_retriever, open_store, store_location
from rag.schema import Answer, Passage, Timings, Usage
from rag.stopwatch import keep, note, stage
from rag.text.lang import detect_language
from rag.translate import answer_translation_messages, fixed_translation, translate_answer, translate_question, translation_messages


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long, bad top_k); the message is one line for users."""


def make_embedder(settings: Settings) -> Embedder:
    return make_embedder_named(settings.embedder, settings.embed_batch_size, RemoteEmbedding.from_settings(settings))


def make_indexer(settings: Settings, embedder: Embedder | None = None, index_dir: Path | None = None) -> Indexer:
    config = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens)
    # The same bounds as an upload through the API: one way in for documents.
    limits = IndexLimits(settings.max_upload_bytes, settings.max_chunks_per_document, ExtractLimits.from_settings(settings))
    return Indexer(index_dir or settings.index_dir, embedder or make_embedder(settings), config,
                   store_location(settings, index_dir), limits)


@dataclass
class Event:
    """One step of a streamed answer: passages, token, or done (with the full Answer)."""

    kind: str
    data: object


@dataclass(frozen=True)
class Query:
    """A question understood: what the model reads and in which language it answers, and what retrieval searches."""

    question: str  # the user's words
    asked: str  # what the model answers: the question, or its French translation under the pivot
    searches: list[str]  # the retrieval query, and its French translation for an English question
    language: str  # the question's language
    answer_language: str  # the language the model writes in

    @property
    def pivot(self) -> bool:
        return self.answer_language != self.language


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
        """Open the index (refusing a mismatched one) and load the models once, the generator beside the rest."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the GGUF loads while the index opens
            loading = pool.submit(self.generator.warm_up) if generator and not self._primed else None
            with self._lock:
                if self.store is None:
                    store = open_store(self.settings)
                    self.embedder.warm_up()
                    store.manifest.check_compatible(
                        self.embedder.name, self.embedder.dimension, self.indexer.chunker_params(), self.settings.index_dir
                    )
                    self.store = store
                    self.retriever = make_retriever(store, self.embedder, self.settings)
                    self.retriever.warm_up()
                    self.selector = EvidenceSelector(self.embedder, self.retriever.bm25, stored=self._stored_sentence)
        if loading is not None:
            loading.result()
            prefixes = [build_messages("?", [], language) for language in STYLES]
            if self.settings.cross_lingual in ("pivot", "retrieval"):
                prefixes.append(translation_messages("?"))
            if self.settings.cross_lingual in ("pivot", "retrieval", "answer"):
                prefixes.append(answer_translation_messages("?"))
            for messages in prefixes:
                self.generator.prime(messages)
            self._primed = True

    def _stored_sentence(self, doc_id: str, start: int, end: int):
        return self.retriever.store.sentences.vector(doc_id, start, end)

    def reload_index(self) -> None:
        """Pick up changes another writer saved (e.g. `rag index` while serving)."""
        store = open_store(self.settings)
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

    def evidence(self, queries: str | list[str], k: int) -> list[Passage]:
        """The numbered passages the model reads: the best sentences of the top chunks, or the chunks themselves."""
        self.warm_up(generator=False)
        if self.settings.evidence == "chunks":
            with stage("retrieve"):
                hits = self.retriever.run(queries, k)
            return [self._passage(n, hit) for n, hit in enumerate(hits, start=1)]
        with stage("retrieve"):
            hits = self.retriever.run(queries, max(k, self.settings.evidence_chunks))
        with stage("evidence"):
            passages = self.selector.run(queries, hits, limit=k)
        if self.settings.evidence_order == "best_last":  # the best sentence right before the question
            passages = [p.model_copy(update={"n": n}) for n, p in enumerate(reversed(passages), start=1)]
        return passages

    @staticmethod
    def _passage(n: int, hit: RetrievedChunk) -> Passage:
        c = hit.chunk
        return Passage(n=n, doc_id=c.doc_id, chunk_id=c.chunk_id, start=c.start, end=c.end, text=c.text, score=round(hit.score, 6))

    def ask(self, question: str, top_k: int | None = None, retrieval_query: str | None = None) -> Answer:
        answer = None
        for event in self.stream(question, top_k, retrieval_query=retrieval_query):
            if event.kind == "done":
                answer = event.data
        return answer

    def stream(self, question: str, top_k: int | None = None, retrieval_query: str | None = None,
               passages_hook: Callable[[list[Passage]], list[Passage]] | None = None) -> Iterator[Event]:
        """Yields passages, then tokens as the model emits them, then done with the verified Answer.

        `retrieval_query` (default: the question) lets a caller search with more than the question, e.g. a chat
        turn together with the turns before it; the model still answers `question`.

        English questions (cross_lingual="pivot") are translated into French; the answer is written and verified
        in French against the French passages, then translated back, so the small model reads one language."""
        question, k = self.check_question(question, top_k)
        self.warm_up()
        started = time.perf_counter()
        query = self.understand(question, retrieval_query)
        passages = self.evidence(query.searches, k)  # retrieve, then select the evidence sentences
        if passages_hook:  # rag.conversation: a follow-up also reads the sentence the previous answer cited
            passages = passages_hook(passages)
        retrieved = time.perf_counter()
        yield Event("passages", passages)
        stats = GenerationStats()
        pieces = []
        for piece in self.generate(query, passages, stats):
            pieces.append(piece)
            if not query.pivot:  # under the pivot, only the answer translated back is shown
                yield Event("token", piece)
        draft = Draft("".join(pieces), question, query.asked, query.language, query.answer_language,
                      self._documents_language(passages))
        verdict, judged = self.verify(draft, passages, query.searches)
        text = self.translate_back(draft, verdict, judged.yes_no)
        if query.pivot:
            yield Event("token", text)
        finished = time.perf_counter()
        answer = Answer(
            question=question,
            answer=text,
            abstained=verdict.abstained,
            citations=verdict.citations,
            passages=passages,
            timings_ms=Timings(
                retrieve=round((retrieved - started) * 1000, 1),
                generate=round((finished - retrieved) * 1000, 1),
                total=round((finished - started) * 1000, 1),
            ),
            usage=Usage.from_generation(stats.result()),
            raw_answer=draft.raw,
            abstain_reason=_with_note(verdict.reason, getattr(self.generator, "confidence_note", None), judged.confidence),
            confidence=judged.confidence,
        )
        yield Event("done", answer)

    # ---- the steps of a question, in order ---------------------------------------------------------------------------
    def understand(self, question: str, retrieval_query: str | None = None) -> Query:
        """The question's language, what to search for, and what the model will read: under the English pivot,
        the question's French translation, searched for beside the English."""
        language = detect_language(question)
        search = (retrieval_query or "").strip() or question
        searches, asked, answer_language = [search], question, language
        if language == "en" and self.settings.cross_lingual in ("pivot", "retrieval"):
            with stage("call.translate_question"):
                french = translate_question(self.generator, search)
            if french:
                searches.append(french)
                if self.settings.cross_lingual == "pivot":
                    asked, answer_language = (french if search == question else translate_question(self.generator, question) or question), "fr"
        elif language == "en" and self.settings.cross_lingual == "answer":
            answer_language = "fr"  # the English question is read as it is; only the answer goes through French
        return Query(question, asked, searches, language, answer_language)

    def generate(self, query: Query, passages: list[Passage], stats: GenerationStats) -> Iterator[str]:
        """The model's answer to the numbered passages, streamed; nothing without passages. Timings go to `stats`."""
        if passages:
            messages = build_messages(query.asked, passages, query.answer_language)
            yield from self.generator.timed_stream(messages, self.settings.max_new_tokens, ["\n\n", "Question"], stats,
                                                   self._grammar(query.asked, passages, query.answer_language))
        note("generate.first_token", stats.first * 1000)
        note("generate.decode", max(0.0, stats.seconds - stats.first) * 1000)
        note("tokens.prompt", stats.prompt_tokens)
        note("tokens.cached", stats.cached_tokens)
        note("tokens.completion", len(stats.pieces))
        keep("generation", stats)

    def verify(self, draft: Draft, passages: list[Passage], searches: list[str]) -> tuple[Verdict, Judgement]:
        """The checks' verdict (rag.checks.judge); a refused answer whose best passage covers the question well
        is replaced by that passage's best sentence, quoted."""
        source_text = {p.doc_id: self.store.text_of(p.doc_id) for p in passages}
        judged = judge(draft, passages, source_text, self.generator, self.settings.min_answer_confidence,
                       self.selector.similarity, self.settings.cross_lingual_similarity_floor)
        verdict = judged.verdict
        best = max(passages, key=lambda p: p.score, default=None)
        if verdict.abstained and draft.raw and not is_abstention(draft.raw) and best and judged.confidence is None \
                and not verdict.reason.startswith(UNNAMED) and self._fallback_allowed(searches, best):
            verdict = extractive_answer(best, source_text)
        return verdict, judged

    def translate_back(self, draft: Draft, verdict: Verdict, yes_no_answer: bool) -> str:
        """The answer in the question's language: "I don't know" in it, a yes/no by word, anything else by the model."""
        text = style_for(draft.language).unknown if verdict.abstained else verdict.answer
        if draft.pivot and yes_no_answer:
            text = translate_yes_no(verdict.answer, draft.answer_language, draft.language)
        elif draft.pivot and not verdict.abstained:
            claim, _ = parse_markers(verdict.answer)
            english = fixed_translation(claim)  # a number or a date needs no model call
            if english is None:
                with stage("call.translate_answer"):
                    english = translate_answer(self.generator, claim)
            if english:
                text = verdict.answer.replace(claim.rstrip(".!?…"), english.rstrip(".!?…"), 1)
        return text

    @staticmethod
    def _documents_language(passages: list[Passage]) -> str | None:
        return detect_language(" ".join(p.text for p in passages)) if passages else None

    def _grammar(self, question: str, passages: list[Passage], language: str) -> str | None:
        if self.settings.decoding != "extractive" or not self.generator.supports_grammar:
            return None
        if detect_language(" ".join(p.text for p in passages)) != language:
            return None  # a span copied from the passages would be in the wrong language
        style = style_for(language)
        return span_grammar(passages, style.unknown_short, style.yes_no if is_yes_no_question(question) else None)

    def _fallback_allowed(self, queries: list[str], best: Passage) -> bool:
        """Quote the best sentence only when it covers most of the question's words: a confident retrieval."""
        if self.settings.extractive_fallback_coverage >= 1 or self.settings.evidence != "sentences":
            return False
        return max(self.selector.coverage(q, best.text) for q in queries) >= self.settings.extractive_fallback_coverage


def _with_note(reason: str, note: str | None, confidence: float | None) -> str | None:
    """An abstention's reason, plus why no confidence was measured where a remote backend could not (rag.models.remote)."""
    return f"{reason} ({note})" if reason and note and confidence is None else reason or None
