"""Month names in French and English, and a French date written the English way: calendar words, the same for any
corpus (no model call is needed to turn "le 17 janvier" into "January 17")."""
from __future__ import annotations

import re
import unicodedata

FR_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]


def _bare(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")


FOLDED_FR = [_bare(m) for m in FR_MONTHS]
FOLDED_EN = [m.lower() for m in EN_MONTHS]
EN_TO_FR = dict(zip(FOLDED_EN, FOLDED_FR))  # "january" -> "janvier", folded as the checks compare words

_FR_MONTH = "|".join(FOLDED_FR)
# "Le 17 janvier", "1er mai 2024", "janvier 2025": a date and nothing else (folded, no final stop)
_FRENCH_DATE = re.compile(rf"(?:le\s+)?(?:(\d{{1,2}})(?:er)?\s+)?({_FR_MONTH})(?:\s+(\d{{4}}))?")


def english_date(french: str) -> str | None:
    """ "Le 17 janvier" -> "January 17", "1er mai 2024" -> "May 1, 2024", "janvier 2025" -> "January 2025"; None when
    the text is more than a French date."""
    found = _FRENCH_DATE.fullmatch(_bare(french.strip().rstrip(".")))
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
