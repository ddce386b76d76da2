"""Follow-up questions in a conversation: the one engine behind `rag chat`, the web page and the HTTP API (`history`
in POST /v1/ask, the messages of POST /v1/chat/completions). A question is resolved against the turns before it,
then the standalone question is answered and verified like any other.

Only the last turn is read today (its standalone question, and its answer unless it abstained); callers pass the
whole bounded history so that a better resolver can use more of it without changing them.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterator, Sequence

from rag.pipeline import Event, QuestionError, RagPipeline
from rag.rewrite import Rewrite, Rewriter
from rag.schema import Answer


@dataclass(frozen=True)
class PriorTurn:
    question: str  # the turn's standalone question (its rewrite when it was a follow-up)
    answer: str  # the verified answer; "" when the turn abstained


def make_rewriter(pipeline: RagPipeline, use_model: bool | None = None) -> Rewriter:
    """The chat's rewriter: the generator names what a follow-up refers to, unless RAG_CHAT_REWRITE_MODEL=0."""
    settings = pipeline.settings
    use_model = settings.chat_rewrite_model if use_model is None else use_model
    return Rewriter(pipeline.generator if use_model else None, settings.max_question_chars)


def resolve_follow_up(rewriter: Rewriter, question: str, history: Sequence[PriorTurn]) -> Rewrite:
    """`question` made standalone against the conversation so far (unchanged when it does not refer back)."""
    last = history[-1] if history else None
    return rewriter.rewrite(question, last.question if last else None, last.answer if last else "")


def answer_follow_up(pipeline: RagPipeline, rewriter: Rewriter, question: str, history: Sequence[PriorTurn],
                     top_k: int | None = None) -> Iterator[Event]:
    """Yields rewrite (a Rewrite), then the pipeline's passages, tokens and done for the standalone question. The
    done Answer carries the question as asked, and `rewritten_question` when it was rewritten."""
    question, _ = pipeline.check_question(question, top_k)
    rewrite = resolve_follow_up(rewriter, question, history)
    yield Event("rewrite", rewrite)
    events = pipeline.stream(rewrite.standalone, top_k)
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
        return PriorTurn(self.rewrite.standalone, "" if self.answer.abstained else self.answer.answer)


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
