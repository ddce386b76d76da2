"""The generator interface every backend implements (rag/models/generate.py: llama.cpp and transformers;
rag/models/remote.py: an OpenAI-compatible server), and what one generation measured."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from rag.config import Settings

Message = dict[str, str]


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: tokens after the first over the time after the first (prefill excluded)."""
        decode = self.seconds - self.first_token_seconds
        return (self.completion_tokens - 1) / decode if self.completion_tokens > 1 and decode > 0 else 0.0


def default_threads() -> int:
    # llama.cpp gains nothing from hyper-threads; on the 2-core target this is 2.
    return max(1, min(os.cpu_count() or 1, 8))


class Generator:
    name = "base"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.lock = threading.Lock()
        self.model_id = settings.generator
        # What the last call on this thread measured (prompt tokens, first-step logprobs): read after the stream ends,
        # when another thread may already hold the model, so it must not be shared state.
        self._last = threading.local()

    def warm_up(self) -> None:
        raise NotImplementedError

    # Whether stream() honours a GBNF `grammar` (constrained decoding); other backends generate freely.
    supports_grammar = False

    def stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
               grammar: str | None = None) -> Iterator[str]:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def first_token_logprob(self, text: str) -> float | None:
        """Log-probability the model gave, before any grammar, to `text`'s first token as the first token of its
        last answer; None where the backend does not record it."""
        return None

    def prime(self, messages: list[Message]) -> None:
        """Evaluate a prompt once so that its fixed prefix is cached (a no-op where the backend keeps no cache)."""

    def timed_stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None,
                     stats: "GenerationStats", grammar: str | None = None) -> Iterator[str]:
        """stream(), recording time to first token, duration and token counts into `stats` as it goes."""
        start = time.perf_counter()
        for piece in self.stream(messages, max_tokens, stop, grammar):
            stats.first = stats.first or time.perf_counter() - start
            stats.pieces.append(piece)
            yield piece
        stats.seconds = time.perf_counter() - start
        stats.prompt_tokens = getattr(self._last, "prompt_tokens", 0)
        stats.cached_tokens = getattr(self._last, "cached_tokens", 0)
        stats.token_ids = getattr(self._last, "token_ids", None)

    def generate(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
                 grammar: str | None = None) -> Generation:
        stats = GenerationStats()
        for _ in self.timed_stream(messages, max_tokens, stop, stats, grammar):
            pass
        return stats.result()


@dataclass
class GenerationStats:
    pieces: list[str] = field(default_factory=list)
    first: float = 0.0
    seconds: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, those resumed from a cached state rather than evaluated
    token_ids: list[int] | None = None  # prompt and answer tokens, where the backend tells them (eval.profile)

    def result(self) -> Generation | None:
        if not self.pieces and not self.seconds:
            return None
        return Generation("".join(self.pieces), self.prompt_tokens, len(self.pieces), self.seconds, self.first or self.seconds)
