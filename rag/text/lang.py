"""Language of a question: French or English (the languages the prompts are written for)."""
from __future__ import annotations

import re
import unicodedata

_FR = set(
    "le la les un une des du de d l au aux et est sont qui que quoi quel quelle quels quelles quand où comment "
    "pourquoi combien dans sur pour par avec ce cette ces son sa ses leur leurs il elle ils elles on a ont été "
    "était pas ne plus se qu y en lors entre selon après avant vers depuis".split()
)
_EN = set(
    "the a an and is are was were who what which when where why how many much in on for by with this that these "
    "those his her its their he she they it has have had been did does do not to of from at about after before "
    "did during between according".split()
)


def detect_language(text: str) -> str:
    """'fr' or 'en' by stop-word votes; accented letters tip ties towards French. Defaults to English."""
    words = re.findall(r"[a-zA-ZÀ-ÿ]+", text.lower().replace("’", "'"))
    fr = sum(w in _FR for w in words)
    en = sum(w in _EN for w in words)
    if any(unicodedata.category(c) == "Ll" and c in "éèêàâçùûôîïœ" for c in text.lower()):
        fr += 1
    return "fr" if fr > en else "en"
