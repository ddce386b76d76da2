"""Follow-up questions, the rules: detect when a question refers back and splice a referent in (the candidate
referents, noun phrases, come from rag/conversation/phrases.py).

"Et quand doit-il débuter ?" after "Où en sont les travaux du gazoduc d'Extrême-Orient ?" becomes
"Quand le gazoduc d'Extrême-Orient doit-il débuter ?".
What the pronoun stands for (the referent) is chosen in rag/conversation/rewrite.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.lang import detect_language
from rag.text.textnorm import STOPWORDS, strip_accents

_TOKEN = re.compile(
    r"(?:[lLdDjJmMnNsStTcC]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu)['’](?=\w)"  # French elision: l' d' qu' ...
    r"|\w+(?:-\w+)*(?:['’]s\b)?"  # words, hyphenated words, English possessive
    r"|[^\w\s]"
)
INVERTED = re.compile(r"^(\w+?)-(t-)?(il|elle|ils|elles|on)$", re.IGNORECASE)
_LEADING = {"et", "mais", "alors", "donc", "and", "but", "so", "also", "then"}
_QUESTION_WORDS = {
    "quand", "ou", "comment", "pourquoi", "combien", "que", "qu'", "quel", "quelle", "quels", "quelles", "qui",
    "quoi", "lequel", "laquelle", "est-ce", "when", "where", "why", "how", "what", "which", "who", "whom", "whose",
}
QUESTION_WORDS = _QUESTION_WORDS
_PREPOSITIONS = {"a", "en", "dans", "de", "d'", "pour", "avec", "depuis", "par", "sur", "jusqu'", "vers", "at", "in", "on", "for", "to", "from", "by", "with", "since", "until"}
_DETERMINERS = {"le", "la", "les", "l'", "un", "une", "the", "an"}
_CONTRACTIONS = {"du": "le", "des": "les", "au": "le", "aux": "les"}  # preposition + article, before a noun phrase
_VERBS_AFTER_EN = {"est", "sont", "a", "ont", "etait", "sera", "parle", "parlent", "dit", "disent", "sait", "pense", "faut", "reste"}  # "en" as a pronoun
EN_AUX = {"did", "does", "do", "should", "will", "can", "could", "would", "must", "may", "might", "has", "have", "had", "shall"}
FR_AUX = {"a", "ont", "avait", "avaient", "est", "sont", "etait", "etaient", "ete", "sera", "seront", "aura", "auront"}
_EXTRA_STOP = _QUESTION_WORDS | EN_AUX | FR_AUX | {"ca", "cela", "ceci", "y", "en", "lui", "leur", "leurs", "him", "her", "them", "its", "his", "their", "there", "eu", "fait", "doit", "peut",
                                                "propos", "regarding"}  # "À propos de …", "Regarding …": a rewrite's own words


def contraction(tok: "Token") -> str:
    """The article inside "du", "des", "au", "aux" ("le", "les"), or "": "dû" (owed, had to) is a verb."""
    return _CONTRACTIONS.get(tok.text.lower(), "")


def fold_token(token: str) -> str:
    return strip_accents(token.replace("’", "'").lower())


@dataclass
class Token:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return fold_token(self.text)

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalnum()


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def is_content(tok: Token) -> bool:
    k = tok.key.removesuffix("'s")
    if k.endswith("'"):
        return False  # an elided article or pronoun: l', d', qu'
    return tok.is_word and k not in STOPWORDS and k not in _EXTRA_STOP and not INVERTED.match(tok.text) and len(k) > 1


def _has_name(tokens: list[Token]) -> bool:
    """A capitalised word after the first: a named subject makes a question self-contained."""
    words = [t for t in tokens if t.is_word]
    return any(t.text[:1].isupper() and not t.text.isdigit() for t in words[1:])


# ---- detection ----------------------------------------------------------------------------------------------------
@dataclass
class Reference:
    kind: str  # inverted | pronoun | possessive | demonstrative | elliptical
    index: int  # token index of the pronoun/verb (-1 for elliptical)
    language: str


def _interrogative(tokens: list[Token], upto: int) -> tuple[int, int]:
    """(first, end) token indexes of the interrogative phrase (quand, en quelle année, combien de temps, how long…)
    after leading conjunctions; first == end when the question starts with none."""
    i = 0
    while i < upto and (tokens[i].key in _LEADING or tokens[i].text == ","):
        i += 1
    first = i
    if i < upto and tokens[i].key in _PREPOSITIONS and i + 1 < upto and tokens[i + 1].key in _QUESTION_WORDS:
        i += 1
    if i < upto and tokens[i].key in _QUESTION_WORDS:
        word = tokens[i].key
        i += 1
        if word.startswith("quel") or word in {"which", "what", "whose"}:
            i += 1  # quelle année, which year
        elif word == "combien" and i < upto and tokens[i].key in {"de", "d'"}:
            i += 2  # combien de temps
        elif word == "how" and i < upto and tokens[i].key in {"many", "much", "long", "far", "old"}:
            i += 1
        return first, min(i, upto)
    return first, first


def _question_head(tokens: list[Token], upto: int) -> list[Token]:
    """Tokens before `upto` without leading conjunctions and the interrogative phrase (quand, combien de temps...)."""
    return tokens[_interrogative(tokens, upto)[1]:upto]


def interrogative_phrase(question: str) -> str:
    """ "En quelle année" of "En quelle année Moscou et Pékin ont-ils signé… ?" ("" when it has none)."""
    tokens = tokenize(question)
    first, end = _interrogative(tokens, len(tokens))
    return question[tokens[first].start:tokens[end - 1].end] if end > first else ""


TIME_NOUNS = {"jour", "annee", "date", "mois", "heure", "heures", "temps", "duree", "day", "year", "month", "time"}
_POINTERS = {"lui", "eux", "elle", "elles", "il", "ils", "ce", "cet", "cette", "ces", "him", "her", "them", "it",
             "this", "that", "these", "those", "other"}


def _dislocated(tokens: list[Token]) -> bool:
    """ "Et Xi, quel jour a-t-il parlé… ?", "Et pour le méga-oléoduc, quel est son nom ?": the subject is named before
    the comma and the question after it points to it, so nothing refers back to the conversation."""
    comma = next((i for i, t in enumerate(tokens) if t.text == ","), None)
    if comma is None:
        return False
    head = [t for t in tokens[:comma] if t.key not in _LEADING and t.key not in _PREPOSITIONS]
    return (any(is_content(t) for t in head) and not any(t.key in _POINTERS for t in head)
            and any(t.key in _QUESTION_WORDS for t in tokens[comma + 1:]))


def detect_reference(question: str) -> Reference | None:
    """Whether `question` refers back to the conversation (pronouns, demonstratives, "et ...", bare questions)."""
    tokens = tokenize(question)
    words = [t for t in tokens if t.is_word]
    if not words:
        return None
    language = detect_language(question)
    if _dislocated(tokens):
        return None
    if any(t.key in {"other", "autre", "autres"} for t in tokens):  # "the other one": other than what was said
        return Reference("elliptical", -1, language)
    named = _has_name(tokens)
    keys = [t.key for t in tokens]
    for i, tok in enumerate(tokens):
        k, prev = tok.key, keys[i - 1] if i else ""
        nxt = keys[i + 1] if i + 1 < len(keys) else ""
        inv = INVERTED.match(tok.text)
        if inv:
            pronoun = inv.group(3).lower()
            if pronoun == "on" or (pronoun == "il" and prev == "y"):  # "on", "y a-t-il": impersonal
                continue
            if pronoun == "il" and prev in {"s'", "se"} and (nxt.startswith("pass") or inv.group(1).lower().startswith("pass")):
                continue  # "que s'est-il passé", "que se passe-t-il": impersonal
            if not any(is_content(t) for t in _question_head(tokens, i)):
                return Reference("inverted", i, "fr")
            continue
        if k in {"il", "elle", "ils", "elles"}:
            if prev in {"s'"} or (k == "il" and nxt in {"y", "faut", "s'"}):
                continue
            return Reference("pronoun", i, "fr")
        if k in {"ca", "cela", "ceci"}:
            return Reference("pronoun", i, "fr")
        if k in {"it", "he", "she", "they", "him", "them"}:
            if k == "it" and prev in {"is", "was"} and nxt in {"true", "possible"}:
                continue
            return Reference("pronoun", i, "en")
        if k in {"this", "these", "those"} or (k == "that" and (i == 0 or prev in STOPWORDS or prev in EN_AUX)):
            return Reference("demonstrative" if nxt and is_content(tokens[i + 1]) else "pronoun", i, "en")
        if k == "there" and prev not in {"is", "are", "was", "were", "be", "been"} and nxt not in {"is", "are", "was", "were"}:
            if not named:
                return Reference("elliptical", -1, "en")
        if k in {"lui", "eux"} and prev in {"selon", "d'apres", "pour", "avec"}:
            return Reference("pronoun", i, "fr")  # "Selon lui, …": refers back even beside names
        if named:
            continue  # the weaker cues below also occur inside self-contained questions
        if k in {"ce", "cet", "cette", "ces"} and nxt and is_content(tokens[i + 1]):
            return Reference("demonstrative", i, "fr")
        if k in {"son", "sa", "ses", "leur", "leurs", "its", "his", "their"}:
            return Reference("possessive", i, language)
        if k in {"y", "lui"} or (k == "en" and prev != "ou" and (nxt in _VERBS_AFTER_EN or prev in {"n'", "qu'", "il", "elle", "on", "ils", "elles", "j'"})):
            return Reference("elliptical", -1, "fr")
    if not named and ({"aussi", "egalement", "too"} & set(keys) or "as well" in " ".join(keys)):
        return Reference("elliptical", -1, language)  # "Within which organisation as well?"
    head = words[0].key
    if head in _LEADING or (head in {"what", "how"} and len(words) > 1 and words[1].key == "about"):
        return Reference("elliptical", -1, language)
    if not named and sum(is_content(t) for t in tokens) <= 1:
        return Reference("elliptical", -1, language)
    return None


def singular(phrase: str, pronoun: str) -> str:
    """'les travaux du gazoduc' for 'il' gives 'le gazoduc'; plural phrases stay for plural pronouns."""
    if pronoun not in {"il", "elle", "it"}:
        return phrase
    m = re.match(r"(?i)(?:les|des|the)\s+\w+[sx]\s+(du|de la|de l'|d'|des|of the|of)\s*(.+)$", phrase)
    if not m:
        return phrase
    article = {"du": "le ", "de la": "la ", "de l'": "l'", "des": "les ", "of the": "the "}.get(m.group(1).lower(), "")
    return article + m.group(2)


# ---- splicing ------------------------------------------------------------------------------------------------------
def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def strip_leading(text: str) -> str:
    """The text without its leading conjunctions ("Et", "And", "Mais", …) and commas."""
    tokens = tokenize(text)
    i = 0
    while i < len(tokens) - 1 and (tokens[i].key in _LEADING or tokens[i].text == ","):
        i += 1
    return text[tokens[i].start :] if i else text


def _elide(word: str, phrase: str) -> str:
    """'que' + 'Iouri' gives "qu'Iouri"."""
    return f"{word[:-1]}'{phrase}" if fold_token(phrase[:1]) in "aeiouyh" and word.endswith("e") else f"{word} {phrase}"


def splice(question: str, referent: str, ref: Reference, names_noun: bool = False) -> str:
    """The follow-up with the referent in place of what refers back; `names_noun`: the referent names what a
    demonstrative's noun stands for ("cette chaîne" -> "CNN")."""
    full = question.strip()
    text = strip_leading(full)
    offset = len(full) - len(text)
    tokens = tokenize(text)
    referent = referent.strip()
    if tokenize(referent)[:1] and tokenize(referent)[0].key in _DETERMINERS | set(_CONTRACTIONS):
        referent = referent[:1].lower() + referent[1:]  # "Le gazoduc" goes mid-sentence
    if ref.index >= 0:
        target = tokenize(full)[ref.index]
        i = next((n for n, t in enumerate(tokens) if t.start == target.start - offset), -1)
        tok = tokens[i] if i >= 0 else None
        if tok and ref.kind == "inverted":
            inv = INVERTED.match(tok.text)
            before = text[: tok.start]
            if before.rstrip().lower().endswith(("qu'", "qu’")):  # "Qu'a-t-il déclaré" -> "Qu'est-ce que X a déclaré"
                return _cap(f"{before.rstrip()[:-3]}qu'est-ce {_elide('que', referent)} {inv.group(1)}{text[tok.end:]}")
            while i > 0 and tokens[i - 1].key in _CLITICS:  # "Comment s'est-il déroulé": the subject goes before "s'"
                i -= 1
                tok, before = tokens[i], text[: tokens[i].start]
            verb = text[tok.start :] if before.strip() else text[tok.start].lower() + text[tok.start + 1 :]
            return _cap(f"{before}{referent} {verb}")
        if tok and ref.kind == "pronoun":
            before = text[: tok.start]
            if before.lower().endswith(("qu'", "qu’")):
                return _cap(before[:-3] + _elide("que", referent) + text[tok.end :])
            return _cap(before + referent + text[tok.end :])
        if tok and ref.kind == "demonstrative" and i + 1 < len(tokens):
            noun = tokens[i + 1]
            if names_noun or noun.key in [fold_token(w) for w in re.findall(r"\w+", referent)]:
                return _cap(text[: tok.start] + referent + text[noun.end :])
        if tok and ref.kind == "possessive" and tok.key in {"its", "his", "their"}:
            return _cap(text[: tok.start] + referent + "'s" + text[tok.end :])
        if tok and ref.kind == "possessive" and tok.key in _FR_POSSESSIVES and i + 1 < len(tokens) and tokens[i + 1].is_word:
            noun = tokens[i + 1]  # "ses travaux" -> "les travaux du gazoduc"
            article = _FR_POSSESSIVES[tok.key]
            article = "l'" if article in ("le", "la") and fold_token(noun.text[:1]) in "aeiouyh" else article + " "
            return _cap(f"{text[: tok.start]}{article}{noun.text} {de_phrase(referent)}{text[noun.end:]}")
    # elliptical, or no pronoun to replace: name the subject first
    first = tokens[0].key if tokens else ""
    lower = first in STOPWORDS or first in _QUESTION_WORDS or first in _PREPOSITIONS or first in {"within", "dans"}
    body = text[:1].lower() + text[1:] if lower else text
    if ref.language == "fr":
        return f"À propos {de_phrase(referent)} : {body}"
    return f"Regarding {referent}: {body}"


# Object and reflexive pronouns that stay between an inverted verb and the subject put before them.
_CLITICS = {"s'", "se", "l'", "le", "la", "les", "lui", "leur", "y", "en", "n'", "ne", "m'", "me", "t'", "te", "nous", "vous"}
_FR_POSSESSIVES = {"son": "le", "sa": "la", "ses": "les", "leur": "le", "leurs": "les"}


def de_phrase(phrase: str) -> str:
    """'de' + 'le gazoduc' gives 'du gazoduc'."""
    low = phrase.lower()
    return "du " + phrase[3:] if low.startswith("le ") else "des " + phrase[4:] if low.startswith("les ") else _elide("de", phrase)
