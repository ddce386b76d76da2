"""Text normalisation shared by BM25, attribution and grounding: case, accents, French elision, stop words."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

STOPWORDS = set(
    # French
    "a au aux avec ce ces cet cette dans de des du elle elles en et eux il ils je la le les leur leurs lui ma mais "
    "me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une "
    "vos votre vous c d j l m n s t y ete etre est sont etait ont avait quel quelle quels quelles quoi comment "
    "combien pourquoi quand lors selon ainsi aussi plus tres tout tous toute toutes dont cela ceci celui celle "
    # English
    "the an and or of to in on at for by with from as is are was were be been being it its this that these those "
    "which who whom whose what when where why how did does do has have had not no his her their they he she them "
    "there than then so such into about after before during between according many much".split()
)
FR_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
# Spelled numbers and ordinals, folded, up to twenty ("un"/"une"/"one" are left out: as articles and pronouns they
# would stand for a 1 anywhere). The grounding check finds "2ème" in "second mandat" with them.
NUMBER_WORDS = {
    word: n
    for n, words in enumerate([
        "", "premier premiere first", "deux deuxieme second seconde two", "trois troisieme three third",
        "quatre quatrieme four fourth", "cinq cinquieme five fifth", "six sixieme sixth", "sept septieme seven seventh",
        "huit huitieme eight eighth", "neuf neuvieme nine ninth", "dix dixieme ten tenth", "onze onzieme eleven",
        "douze douzieme twelve", "treize treizieme thirteen", "quatorze quatorzieme fourteen",
        "quinze quinzieme fifteen", "seize seizieme sixteen", "dix-sept dix-septieme", "dix-huit dix-huitieme",
        "dix-neuf dix-neuvieme", "vingt vingtieme twenty",
    ])
    for word in words.split()
}
_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


MONTHS = {strip_accents(month.lower()) for month in FR_MONTHS + EN_MONTHS}  # folded, as words() gives them


def fold(text: str) -> str:
    """Lower-case, accent-free, elisions removed: 'L’Ukraine' -> 'ukraine'."""
    return strip_accents(_ELISION.sub(" ", text.replace("’", "'")).lower())


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def same_word(a: str, b: str) -> bool:
    """Equal folded words, or two of four letters or more sharing their first five ("gazoduc", "gazoducs")."""
    return a == b or (len(a) >= 4 and len(b) >= 4 and a[:5] == b[:5])


@lru_cache(maxsize=4)
def _stemmer(language: str):
    try:
        import Stemmer
    except ImportError:
        raise RuntimeError("install PyStemmer to enable stemming for BM25") from None
    return Stemmer.Stemmer(language)


def stems(text: str, language: str = "french") -> list[str]:
    return _stemmer(language).stemWords(content_words(text))


# BM25 matches stems cut to this many characters: Snowball's French stemmer is light, so inflected and derived forms
# ("britannique"/"britanique", "insurrection"/"insurgés") often keep different stems. Cutting them to 5 characters
# raised hit@5 on the PIAF paragraphs and hit@1 on the seed gold set; 4 was too coarse, 6 gained less.
TERM_PREFIX = 5


def truncate(stem: str, prefix: int | None = TERM_PREFIX) -> str:
    return stem[:prefix] if prefix else stem


def terms(text: str, language: str = "french", prefix: int | None = TERM_PREFIX) -> list[str]:
    """BM25 index terms: stems cut to `prefix` characters (None or 0 keeps whole stems)."""
    return [truncate(s, prefix) for s in stems(text, language)]


def char_ngrams(text: str, n: int = 4) -> list[str]:
    """Character n-grams of each content word, padded with '#' at both ends ('ukraine' -> '#ukr', 'ukra', …,
    'ine#'): they match across inflection, derivation and spelling variants that stems miss. Short words stay
    whole ('#fc#')."""
    grams = []
    for word in content_words(text):
        padded = f"#{word}#"
        grams += [padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]
    return grams


def lexical_fields(text: str, language: str = "french", char_size: int = 4) -> tuple[str, str]:
    """What Milvus's BM25 indexes for a text: rag's word terms and character n-grams, space-separated ('#', which
    pads n-grams, becomes '_': a word character for any tokenizer)."""
    return " ".join(terms(text, language)), " ".join(g.replace("#", "_") for g in char_ngrams(text, char_size))
