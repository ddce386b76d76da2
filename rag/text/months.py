"""French and English month names side by side (the names live in rag.text.textnorm), and a French date written the
English way: calendar words, the same for any corpus (no model call turns "le 17 janvier" into "January 17")."""
from __future__ import annotations

import re

from rag.text.textnorm import EN_MONTHS, FR_MONTHS, strip_accents


FOLDED_FR = [strip_accents(m.lower()) for m in FR_MONTHS]
EN_TO_FR = {m.lower(): french for m, french in zip(EN_MONTHS, FOLDED_FR)}  # "january" -> "janvier", as the checks fold

_FR_MONTH = "|".join(FOLDED_FR)
# "Le 17 janvier", "1er mai 2024", "janvier 2025": a date and nothing else (folded, no final stop)
_FRENCH_DATE = re.compile(rf"(?:le\s+)?(?:(\d{{1,2}})(?:er)?\s+)?({_FR_MONTH})(?:\s+(\d{{4}}))?")


def english_date(french: str) -> str | None:
    """ "Le 17 janvier" -> "January 17", "1er mai 2024" -> "May 1, 2024", "janvier 2025" -> "January 2025"; None when
    the text is more than a French date."""
    found = _FRENCH_DATE.fullmatch(strip_accents(french.strip().rstrip(".").lower()))
    if not found:
        return None
    day, month, year = found.groups()
    if day is None and year is None:
        return None  # "mars" alone may be the planet, or part of a name
    text = EN_MONTHS[FOLDED_FR.index(month)]
    if day:
        text += f" {int(day)}"
    if year:
        text += f", {year}" if day else f" {year}"
    return text
