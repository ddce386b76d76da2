"""Extractive decoding: a llama.cpp grammar (GBNF) that lets the model write only a contiguous run of words from one
numbered passage, followed by that passage's marker, or the "don't know" phrase (and yes/no for yes/no questions).

A 0.5B model left free invents numbers, copies its worked examples and forgets markers; constrained this way it can
still pick the wrong span, but everything it writes stands verbatim in a source sentence it cites correctly.
The grammar is linear in the passages' length: one rule per word, "this word, then optionally the next rule".
"""
from __future__ import annotations

import re

from rag.schema import Passage
from rag.textnorm import fold

_TRAILING = ",;:.!?)»\"'"
_LEADING = "(«\"'"
_YES_NO_FR = re.compile(r"^(?:est-ce que|est-ce qu)|-t-(?:il|elle|on)\b|\b\w+-(?:il|elle|ils|elles|on)\b")
_YES_NO_EN = re.compile(r"^(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must)\b")
# A question word opens a wh-question ("À quelle date…", "Qui a-t-il vu ?"); later it is a relative ("l'appel que…").
_LEADING_PREPOSITIONS = re.compile(r"^(?:(?:a|de|d|en|pour|par|dans|sur|depuis|avec|selon|in|on|at|for|from|to|by|with|since)[\s']+)+")
_WH = re.compile(
    r"\b(?:qui|que|quoi|qu|quel|quelle|quels|quelles|quand|ou|comment|combien|pourquoi|lequel|laquelle|"
    r"who|what|which|when|where|how|why|whom|whose)\b"
)


def is_yes_no_question(question: str) -> bool:
    folded = fold(question).strip()
    if _WH.match(_LEADING_PREPOSITIONS.sub("", folded)) or re.match(r"qu['’]est-ce", question.strip().lower()):
        return False  # fold() drops the elided "qu'" of "qu'est-ce que"
    if _YES_NO_EN.search(folded):
        return True
    inverted = _YES_NO_FR.search(folded)
    # "Le long de quoi le cessez-le-feu serait-il…", "Hormis X, quel sujet ont-ils…": a question word before the
    # inverted verb makes it a wh-question; after it, it is a relative ("l'appel que CNN disait").
    return bool(inverted) and not _WH.search(folded[:inverted.start()])


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
