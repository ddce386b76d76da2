"""Follow-ups that count days from the previous answer: "Et que s'est-il passé le lendemain ?" after "19 janvier"
asks about the 20th of January; "What happened the day before?" after "January 17" about the 16th. The day is
written into the question, which then names what it asks about and needs no other rewrite."""
from __future__ import annotations

import datetime as dt
import re

from rag.conversation.refer import strip_leading
from rag.text.textnorm import EN_MONTHS as _EN_MONTHS, FR_MONTHS as _FR_MONTHS, fold

_MONTH_NUMBER = {fold(name): n for names in (_FR_MONTHS, _EN_MONTHS) for n, name in enumerate(names, start=1)}
_MONTH = "|".join(_MONTH_NUMBER)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:er)?\s+({_MONTH})\b")  # "19 janvier", "1er mai", "21 january"
_MONTH_DAY = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b")  # "january 17"
# (pattern, days from the previous answer's date, language)
_RELATIVE = [
    (re.compile(r"(?i)\b(?:le\s+)?lendemain\b"), 1, "fr"),
    (re.compile(r"(?i)\b(?:la\s+)?veille\b"), -1, "fr"),
    (re.compile(r"(?i)\b(?:on\s+)?the\s+(?:next|following)\s+day\b|\b(?:on\s+)?the\s+day\s+after\b"), 1, "en"),
    (re.compile(r"(?i)\b(?:on\s+)?the\s+day\s+before\b|\b(?:on\s+)?the\s+previous\s+day\b"), -1, "en"),
]
_COMPLEMENT = re.compile(r"(?i)\s*(?:de|du|des|d['’]|of|the|his|her|their|its|a|an|this|that)\b")


def answer_day(answer: str) -> tuple[int, int] | None:
    """(month, day) of the first day-and-month date in the answer, or None."""
    folded = fold(answer)
    match = _DAY_MONTH.search(folded)
    if match:
        day, month = int(match.group(1)), _MONTH_NUMBER[match.group(2)]
    else:
        match = _MONTH_DAY.search(folded)
        if not match:
            return None
        month, day = _MONTH_NUMBER[match.group(1)], int(match.group(2))
    try:
        dt.date(2001, month, day)  # any year without a 29 February: the documents' year is unknown
    except ValueError:
        return None
    return month, day


def with_relative_day(question: str, answer: str) -> str | None:
    """The question with "le lendemain" / "la veille" / "the next day" / "the day before" replaced by the day it
    counts from the previous answer's date; None when it has no such phrase or the answer no such date."""
    for pattern, shift, language in _RELATIVE:
        found = pattern.search(question)
        if not found or _COMPLEMENT.match(question[found.end():]):
            continue  # "la veille de l'investiture", "the day after the election": counted from what it names
        day = answer_day(answer)
        if day is None:
            return None
        date = dt.date(2001, *day) + dt.timedelta(days=shift)
        written = (f"le {date.day} {_FR_MONTHS[date.month - 1]}" if language == "fr"
                   else f"on {_EN_MONTHS[date.month - 1]} {date.day}")
        text = strip_leading(question[: found.start()] + written + question[found.end():])
        return text[:1].upper() + text[1:]
    return None
