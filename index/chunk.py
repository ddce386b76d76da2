"""Sentence-aware chunking sized in embedder word-pieces, with sentence overlap.

Like Haystack's DocumentSplitter, every chunk keeps its source doc_id and character offsets, so
`chunk.text == document.text[chunk.start:chunk.end]` always holds.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Callable

from index.document import Document
from index.sentences import sentence_spans

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChunkerConfig:
    max_tokens: int = 254  # all-MiniLM-L6-v2 reads 256 word-pieces, [CLS] and [SEP] included
    overlap_tokens: int = 40


def make_chunk_id(doc_id: str, start: int, text: str) -> str:
    return hashlib.sha256(f"{doc_id}\x00{start}\x00{text}".encode("utf-8")).hexdigest()[:16]


def approx_token_counter(text: str) -> int:
    """Fallback counter (about 1.9 word-pieces per French word) when no tokenizer is at hand."""
    return int(len(text.split()) * 1.9) + 1


class SentenceChunker:
    """Packs whole sentences into chunks of at most `max_tokens`; long sentences are split on words."""

    def __init__(self, config: ChunkerConfig, count_tokens: TokenCounter = approx_token_counter):
        if config.overlap_tokens >= config.max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        self.config = config
        self.count_tokens = count_tokens

    def run(self, document: Document) -> list[Chunk]:
        text = document.text
        units = self._units(text)
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j, used = i, 0
            while j < len(units) and (j == i or used + units[j][2] <= self.config.max_tokens):
                used += units[j][2]
                j += 1
            # Sentence counts need not add up (a sentencepiece tokenizer may split the joined text differently).
            while j - i > 1 and self.count_tokens(text[units[i][0]:units[j - 1][1]]) > self.config.max_tokens:
                j -= 1
            start, end = units[i][0], units[j - 1][1]
            piece = text[start:end]
            chunks.append(Chunk(make_chunk_id(document.doc_id, start, piece), document.doc_id, start, end, piece))
            if j >= len(units):
                break
            # Step back over trailing sentences worth at most overlap_tokens, but always move forward.
            back, carried = j, 0
            while back - 1 > i and carried + units[back - 1][2] <= self.config.overlap_tokens:
                back -= 1
                carried += units[back][2]
            i = back
        return chunks

    def _units(self, text: str) -> list[tuple[int, int, int]]:
        """Sentences as (start, end, tokens); a sentence over the limit becomes word windows."""
        units = []
        for start, end in sentence_spans(text):
            n = self.count_tokens(text[start:end])
            if n <= self.config.max_tokens:
                units.append((start, end, n))
            else:
                units.extend(self._split_long(text, start, end))
        return units

    def _split_long(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
        pieces, first = [], 0
        while first < len(words):
            last = first + 1
            while last < len(words):
                candidate = text[start + words[first][0] : start + words[last][1]]
                if self.count_tokens(candidate) > self.config.max_tokens:
                    break
                last += 1
            s, e = start + words[first][0], start + words[last - 1][1]
            pieces.append((s, e, self.count_tokens(text[s:e])))
            first = last
        return pieces
