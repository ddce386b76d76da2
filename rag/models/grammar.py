"""Extractive decoding: a llama.cpp grammar (GBNF) that lets the model write only a contiguous run of words from one
numbered passage, followed by that passage's marker, or the "don't know" phrase (and yes/no for yes/no questions).

A 0.5B model left free invents numbers, copies its worked examples and forgets markers; constrained this way it can
still pick the wrong span, but everything it writes stands verbatim in a source sentence it cites correctly.
The grammar is linear in the passages' length: one rule per word, "this word, then optionally the next rule".
"""
from __future__ import annotations

from rag.schema import Passage

_TRAILING = ",;:.!?)»\"'"
_LEADING = "(«\"'"
def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first_char_any_case(word: str) -> str:
    """The word as a GBNF sequence whose first letter may be upper or lower case (answers start a sentence)."""
    head, rest = word[0], word[1:]
    if head.lower() == head.upper():
        return _literal(word)
    head_rule = f"[{head.lower()}{head.upper()}]"
    return f"{head_rule} {_literal(rest)}" if rest else head_rule


def _words(text: str) -> list[str]:
    words = []
    for raw in text.split():
        word = raw.strip(_TRAILING).lstrip(_LEADING)
        if any(ch.isalnum() for ch in word):  # lone punctuation (« », –) is no answer
            words.append(word)
    return words


def span_grammar(passages: list[Passage], unknown: str, yes_no: tuple[str, str] | None = None) -> str:
    """GBNF for: (any run of consecutive words of passage n) " [n]" | unknown | (yes | no) " [n]"."""
    rules: list[str] = []
    alternatives: list[str] = []
    for p in passages:
        words = _words(p.text)
        if not words:
            continue
        starts = []
        for i, word in enumerate(words):
            nxt = f' (" " p{p.n}-w{i + 1})?' if i + 1 < len(words) else ""
            rules.append(f"p{p.n}-w{i} ::= {_literal(word)}{nxt}")
            rules.append(f"p{p.n}-s{i} ::= {_first_char_any_case(word)}{nxt}")
            starts.append(f"p{p.n}-s{i}")
        rules.append(f"p{p.n} ::= ({' | '.join(starts)}) \" [{p.n}]\"")
        alternatives.append(f"p{p.n}")
    alternatives.append(_literal(unknown))
    if yes_no and passages:
        markers = " | ".join(f'"[{p.n}]"' for p in passages)
        alternatives.append(f'({_literal(yes_no[0])} | {_literal(yes_no[1])}) " " ({markers})')
    return "\n".join([f"root ::= {' | '.join(alternatives)}", *rules]) + "\n"
