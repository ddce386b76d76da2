"""Numbers as the answer checks read them: "1 300", "1,300" and "1300" are one number, whatever the separator
(space, no-break space, comma or point), so a French source and an English answer compare."""
from __future__ import annotations

import re

_SEPARATOR = r"[ \u00a0\u202f.,]"
# Digits with thousands groups of exactly three ("12 000", "1,300") and an optional decimal part ("1,5").
NUMBER = re.compile(rf"\d+(?:{_SEPARATOR}\d{{3}}(?!\d))*(?:[.,]\d+)?")
# A whole number as French writes it ("1 300") or plain digits: what the source's wording can give back.
INTEGER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3}(?!\d))+|\d+")
# A text that is numbers only, with no word to say what they count ("1300", "12 %", "3, 4").
_ONLY_NUMBERS = re.compile(r"[\d\s.,%\u00a0\u202f]*\d[\d\s.,%\u00a0\u202f]*")


def number_key(token: str) -> str:
    """The digits of a number without its separators: the form numbers are compared in."""
    return re.sub(_SEPARATOR, "", token)


def number_keys(text: str) -> list[str]:
    """Every number of a text, in order, as number_key()s."""
    return [number_key(n) for n in NUMBER.findall(text)]


def only_numbers(text: str) -> bool:
    return bool(_ONLY_NUMBERS.fullmatch(text))
