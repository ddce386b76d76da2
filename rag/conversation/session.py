"""Follow-up questions in a conversation: the one engine behind `rag chat`, the web page and the HTTP API (`history`
in POST /v1/ask, the earlier messages of POST /v1/chat/completions).

A question is resolved against the last turn: its standalone question, its answer (unless it abstained) and the
sentences that answer cited (rag.conversation.rewrite). A follow-up that was rewritten also reads the previous answer's first
cited sentence beside its own evidence, through the pipeline's `passages_hook`: "Et qui l'a rapporté ?" after a
question on the call's length finds the adviser in the sentence that gave the length. The model answers the
standalone question, and its answer is verified like any other.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from rag.pipeline import Event, QuestionError, RagPipeline
from rag.conversation.refer import detect_reference
from rag.conversation.rewrite import Rewrite, Rewriter, claim_of
from rag.schema import Answer, Citation, Passage

CITED_PASSAGES = 1  # sentences of the previous answer a follow-up reads beside its own evidence


@dataclass(frozen=True)
class PriorTurn:
    question: str  # the turn's standalone question (its rewrite when it was a follow-up)
    answer: str  # the verified answer; "" when the turn abstained
    cited: tuple[Citation, ...] = ()  # the sentences the answer cites; recovered from the index when unknown


def make_rewriter(pipeline: RagPipeline, use_model: bool | None = None) -> Rewriter:
    """The chat's rewriter: the generator names what a follow-up refers to, unless RAG_CHAT_REWRITE_MODEL=0."""
    settings = pipeline.settings
    use_model = settings.chat_rewrite_model if use_model is None else use_model
    return Rewriter(pipeline.generator if use_model else None, settings.max_question_chars)


def recover_citations(pipeline: RagPipeline, turn: PriorTurn) -> tuple[Citation, ...]:
    """A client that sends only text (the OpenAI messages, the web page's history): the sentence of the index that
    best matches the question with its answer, if it holds the answer's words."""
    claim = claim_of(turn.answer)
    if turn.cited or not claim:
        return turn.cited
    best = pipeline.evidence([f"{turn.question} {claim}"], 1)
    words = {w for w in claim.lower().split() if len(w) > 3}
    if not best or (words and not words & set(best[0].text.lower().split())):
        return ()
    p = best[0]
    return (Citation(n=1, doc_id=p.doc_id, chunk_id=p.chunk_id, start=p.start, end=p.end, quote=p.text),)


def resolve_follow_up(rewriter: Rewriter, question: str, history: Sequence[PriorTurn]) -> Rewrite:
    """`question` made standalone against the conversation so far (unchanged when it does not refer back)."""
    last = history[-1] if history else None
    if last is None:
        return rewriter.rewrite(question, None)
    return rewriter.rewrite(question, last.question, last.answer, tuple(c.quote for c in last.cited))


def standalone_history(pairs: Sequence[tuple[str, str]]) -> list[PriorTurn]:
    """(question, answer) pairs a client kept as plain text (OpenAI messages), each question made standalone against
    the one before by the rules alone (no model call), so that a follow-up of a follow-up still finds its subject."""
    rules, out = Rewriter(None), []
    for question, answer in pairs:
        last = out[-1] if out else None
        standalone = rules.rewrite(question, last.question if last else None, last.answer if last else "").standalone
        out.append(PriorTurn(standalone, answer))
    return out


def with_cited(cited: Sequence[Citation]) -> Callable[[list[Passage]], list[Passage]]:
    """A passages_hook: the cited sentences first (the best evidence stays next to the question), renumbered."""
    def hook(passages: list[Passage]) -> list[Passage]:
        have = {(p.doc_id, p.start, p.end) for p in passages}
        extra = [Passage(n=0, doc_id=c.doc_id, chunk_id=c.chunk_id, start=c.start, end=c.end, text=c.quote, score=0.0)
                 for c in cited[:CITED_PASSAGES] if (c.doc_id, c.start, c.end) not in have]
        return [p.model_copy(update={"n": n}) for n, p in enumerate(extra + passages, start=1)]
    return hook


def answer_follow_up(pipeline: RagPipeline, rewriter: Rewriter, question: str, history: Sequence[PriorTurn],
                     top_k: int | None = None) -> Iterator[Event]:
    """Yields rewrite (a Rewrite), then the pipeline's passages, tokens and done for the standalone question. The
    done Answer carries the question as asked, and `rewritten_question` when it was rewritten."""
    question, _ = pipeline.check_question(question, top_k)
    if history and detect_reference(question) is not None:  # only a follow-up needs them
        history = [*history[:-1], PriorTurn(history[-1].question, history[-1].answer,
                                            recover_citations(pipeline, history[-1]))]
    rewrite = resolve_follow_up(rewriter, question, history)
    yield Event("rewrite", rewrite)
    hook = with_cited(history[-1].cited) if rewrite.rewritten and history and history[-1].cited else None
    events = pipeline.stream(rewrite.standalone, top_k, passages_hook=hook)
    try:
        for event in events:
            if event.kind == "done":
                rewritten = rewrite.standalone if rewrite.rewritten else None
                event = Event("done", event.data.model_copy(update={"question": rewrite.question,
                                                                     "rewritten_question": rewritten}))
            yield event
    finally:
        events.close()  # closing this iterator early stops the model at once


@dataclass
class Turn:
    rewrite: Rewrite
    answer: Answer

    def prior(self) -> PriorTurn:
        if self.answer.abstained:
            return PriorTurn(self.rewrite.standalone, "")
        return PriorTurn(self.rewrite.standalone, self.answer.answer, tuple(self.answer.citations))


class Conversation:
    """The last few turns and the settings of one conversation (`rag chat`, `rag eval`'s conversation mode)."""

    def __init__(self, pipeline: RagPipeline, top_k: int | None = None, turns: int | None = None,
                 rewrite_model: bool | None = None, rewriter: Rewriter | None = None):
        settings = pipeline.settings
        self.pipeline = pipeline
        self.top_k = settings.top_k if top_k is None else top_k
        self.turns: deque[Turn] = deque(maxlen=max(1, turns or settings.chat_turns))
        self.rewriter = rewriter or make_rewriter(pipeline, rewrite_model)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def reset(self) -> None:
        self.turns.clear()

    def set_k(self, value: str) -> str:
        try:
            k = int(value)
        except ValueError:
            raise QuestionError(f"/k needs a number, not {value!r}") from None
        self.pipeline.check_question("k", k)  # the same bounds as `rag ask -k`
        self.top_k = k
        return f"k = {k}"

    def stream(self, question: str) -> Iterator[Event]:
        """Yields rewrite (a Rewrite), then the pipeline's passages, tokens and done; a finished answer becomes a turn.
        Closing the iterator early stops the model, and the turn is not kept."""
        history = [t.prior() for t in self.turns]
        rewrite = None
        events = answer_follow_up(self.pipeline, self.rewriter, question, history, self.top_k)
        try:
            for event in events:
                if event.kind == "rewrite":
                    rewrite = event.data
                elif event.kind == "done":
                    self.turns.append(Turn(rewrite, event.data))
                yield event
        finally:
            events.close()

    def ask(self, question: str) -> Turn:
        for _ in self.stream(question):
            pass
        return self.last
