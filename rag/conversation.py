"""Follow-up questions in a conversation: the one way `rag chat` and the HTTP API (`history` in POST /v1/ask)
resolve a question against the turns before it, then answer the standalone question.

Only the last turn is read today (its standalone question, and its answer unless it abstained); callers pass the
whole bounded history so that a better resolver can use more of it without changing them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from rag.pipeline import Event, RagPipeline
from rag.rewrite import Rewrite, Rewriter


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
