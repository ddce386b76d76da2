"""Sentence spans with exact character offsets (no normalisation, so spans index the original text)."""
from __future__ import annotations

import re

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace,
# or at a line break. Abbreviations such as "M." are protected below.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+|\n+")
_ABBREVIATIONS = re.compile(r"(?:\b(?:M|MM|Mme|Mlle|Dr|Mr|Mrs|Ms|St|Jr|etc|vs|av|apr|J\.-C|p|n°|No|art|cf|ex)|\b[A-Z])\.$")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end], trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        piece_end = match.start()
        if "\n" not in match.group() and _ABBREVIATIONS.search(text[cursor:piece_end]):
            continue
        _append_trimmed(text, cursor, piece_end, spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
