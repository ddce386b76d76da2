"""Data passed between stages and returned to users (CLI --json and HTTP share these)."""
from __future__ import annotations

from pydantic import BaseModel, Field


class Passage(BaseModel):
    """A retrieved chunk, numbered as it appears in the prompt."""

    n: int
    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float


class Citation(BaseModel):
    """A claim's source: `quote == text_of(doc_id)[start:end]` always holds."""

    n: int
    doc_id: str
    chunk_id: str
    start: int
    end: int
    quote: str


class Timings(BaseModel):
    retrieve: float = 0.0
    generate: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    timings_ms: Timings = Field(default_factory=Timings)
    usage: "Usage | None" = None
    raw_answer: str | None = Field(default=None, description="the model's text before verification")
    abstain_reason: str | None = None
    confidence: float | None = Field(
        default=None, description="how much the model preferred its answer to 'don't know' (0..1), where the backend reports it")
    rewritten_question: str | None = Field(
        default=None, description="the standalone question a follow-up was rewritten into and answered (rag chat, or "
                                  "/v1/ask with history); null when the question was answered as asked")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_per_second: float = 0.0
    first_token_ms: float = 0.0

    @classmethod
    def from_generation(cls, generation) -> "Usage":
        if generation is None:
            return cls()
        return cls(
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            tokens_per_second=round(generation.tokens_per_second, 2),
            first_token_ms=round(generation.first_token_seconds * 1000, 1),
        )


Answer.model_rebuild()
