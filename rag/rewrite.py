"""Follow-up questions in a chat: detect when a question refers back, and make it standalone.

"Et quand doit-il débuter ?" after "Où en sont les travaux du gazoduc d'Extrême-Orient ?" becomes
"Quand le gazoduc d'Extrême-Orient doit-il débuter ?".

The bundled 0.5B model echoes the question back when asked to rewrite it whole, but it is decent at naming what a
pronoun refers to. So the model names the referent (a noun phrase that must occur in the previous question), and
the referent is spliced into the follow-up by rules per language. When the model's answer is unusable, a
deterministic noun-phrase extractor picks the referent instead.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from rag.lang import detect_language
from rag.textnorm import STOPWORDS, strip_accents

_TOKEN = re.compile(
    r"(?:[lLdDjJmMnNsStTcC]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu)['’](?=\w)"  # French elision: l' d' qu' ...
    r"|\w+(?:-\w+)*(?:['’]s\b)?"  # words, hyphenated words, English possessive
    r"|[^\w\s]"
)
_INVERTED = re.compile(r"^(\w+?)-(t-)?(il|elle|ils|elles|on)$", re.IGNORECASE)
_LEADING = {"et", "mais", "alors", "donc", "and", "but", "so", "also", "then"}
_QUESTION_WORDS = {
    "quand", "ou", "comment", "pourquoi", "combien", "que", "qu'", "quel", "quelle", "quels", "quelles", "qui",
    "quoi", "lequel", "laquelle", "est-ce", "when", "where", "why", "how", "what", "which", "who", "whom", "whose",
}
_PREPOSITIONS = {"a", "en", "dans", "de", "d'", "pour", "avec", "depuis", "par", "sur", "jusqu'", "vers", "at", "in", "on", "for", "to", "from", "by", "with", "since", "until"}
_DETERMINERS = {"le", "la", "les", "l'", "un", "une", "the", "an"}
_CONTRACTIONS = {"du": "le", "des": "les", "au": "le", "aux": "les"}  # preposition + article, before a noun phrase
_CONNECTORS = {"de", "d'", "du", "des", "pour", "via", "entre", "et", "au", "aux", "of", "for", "between", "and", "through"}
_VERBS_AFTER_EN = {"est", "sont", "a", "ont", "etait", "sera", "parle", "parlent", "dit", "disent", "sait", "pense", "faut", "reste"}  # "en" as a pronoun
_FR_VERB_AFTER = {"que", "qu'", "quand", "ou", "comment", "pourquoi", "qui"}  # "Que disent...", "Qui dirige..."
_PARTICIPLE = re.compile(r"(?:e|es|ee|ees|i|is|it|u|us)$")
_EN_AUX = {"did", "does", "do", "should", "will", "can", "could", "would", "must", "may", "might", "has", "have", "had", "shall"}
_FR_AUX = {"a", "ont", "avait", "avaient", "est", "sont", "etait", "etaient", "ete", "sera", "seront", "aura", "auront"}
_EXTRA_STOP = _QUESTION_WORDS | _EN_AUX | _FR_AUX | {"ca", "cela", "ceci", "y", "en", "lui", "leur", "leurs", "him", "her", "them", "its", "his", "their", "there", "eu", "fait", "doit", "peut"}


def _fold(token: str) -> str:
    return strip_accents(token.replace("’", "'").lower())


@dataclass
class Token:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return _fold(self.text)

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalnum()


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _is_content(tok: Token) -> bool:
    k = tok.key.removesuffix("'s")
    return tok.is_word and k not in STOPWORDS and k not in _EXTRA_STOP and not _INVERTED.match(tok.text) and len(k) > 1


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


def _question_head(tokens: list[Token], upto: int) -> list[Token]:
    """Tokens before `upto` without leading conjunctions and the interrogative phrase (quand, combien de temps...)."""
    i = 0
    while i < upto and (tokens[i].key in _LEADING or tokens[i].text == ","):
        i += 1
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
    return tokens[i:upto]


def detect_reference(question: str) -> Reference | None:
    """Whether `question` refers back to the conversation (pronouns, demonstratives, "et ...", bare questions)."""
    tokens = tokenize(question)
    words = [t for t in tokens if t.is_word]
    if not words:
        return None
    language = detect_language(question)
    named = _has_name(tokens)
    keys = [t.key for t in tokens]
    for i, tok in enumerate(tokens):
        k, prev = tok.key, keys[i - 1] if i else ""
        nxt = keys[i + 1] if i + 1 < len(keys) else ""
        inv = _INVERTED.match(tok.text)
        if inv:
            pronoun = inv.group(3).lower()
            if pronoun == "on" or (pronoun == "il" and prev == "y"):  # "on", "y a-t-il": impersonal
                continue
            if not any(_is_content(t) for t in _question_head(tokens, i)):
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
        if k in {"this", "these", "those"} or (k == "that" and (i == 0 or prev in STOPWORDS or prev in _EN_AUX)):
            return Reference("demonstrative" if nxt and _is_content(tokens[i + 1]) else "pronoun", i, "en")
        if k == "there" and prev not in {"is", "are", "was", "were", "be", "been"} and nxt not in {"is", "are", "was", "were"}:
            if not named:
                return Reference("elliptical", -1, "en")
        if named:
            continue  # the weaker cues below also occur inside self-contained questions
        if k in {"ce", "cet", "cette", "ces"} and nxt and _is_content(tokens[i + 1]):
            return Reference("demonstrative", i, "fr")
        if k in {"son", "sa", "ses", "leur", "leurs", "its", "his", "their"}:
            return Reference("possessive", i, language)
        if k in {"y", "lui"} or (k == "en" and prev != "ou" and (nxt in _VERBS_AFTER_EN or prev in {"n'", "qu'", "il", "elle", "on", "ils", "elles", "j'"})):
            return Reference("elliptical", -1, "fr")
    head = words[0].key
    if head in _LEADING or (head in {"what", "how"} and len(words) > 1 and words[1].key == "about"):
        return Reference("elliptical", -1, language)
    if not named and sum(_is_content(t) for t in tokens) <= 1:
        return Reference("elliptical", -1, language)
    return None


# ---- noun phrases of the previous question ------------------------------------------------------------------------
def noun_phrases(text: str) -> list[str]:
    """Candidate referents in `text`, best first: runs of content words joined by "de", "of", "'s"..., with their
    article ("du gazoduc" gives "le gazoduc")."""
    tokens = tokenize(text)
    french = detect_language(text) == "fr"
    articles = {"le", "la", "les", "l'", "un", "une"} if french else {"the", "a", "an"}
    content = [_is_content(t) for t in tokens]
    for n in range(1, len(tokens)):
        prev = tokens[n - 1].key
        if french and content[n] and (prev in _FR_AUX and _PARTICIPLE.search(tokens[n].key) or prev in _FR_VERB_AFTER):
            content[n] = False  # "a déclaré", "que disent", "qui dirige": verbs
    spans: list[tuple[float, int, str]] = []
    i = 0
    while i < len(tokens):
        if not content[i]:
            i += 1
            continue
        j = i  # extend over a connector (and its article) followed by more content
        while True:
            k = j + 1
            if k < len(tokens) and tokens[k].key in _CONNECTORS:
                k += 1
                if k < len(tokens) and tokens[k].key in articles:
                    k += 1
            if k > j + 1 and k < len(tokens) and content[k]:
                j = k
            elif j + 1 < len(tokens) and content[j + 1]:
                j += 1
            else:
                break
        first, last = i, j
        before = tokens[first - 1].key if first else ""
        prefix, bonus = "", 0.0
        if before in articles:
            first -= 1
            bonus = 1.0
        elif french and before in _CONTRACTIONS:
            prefix, bonus = _CONTRACTIONS[before] + " ", 1.0
        if first and tokens[first - 1].key in _EN_AUX and last > i and tokens[last].text.islower():
            last -= 1  # "did Putin and Xi discuss": drop the main verb after the subject
        weight = sum(content[i : last + 1])
        spans.append((weight + bonus, tokens[first].start, prefix + text[tokens[first].start : tokens[last].end]))
        i = j + 1
    spans.sort(key=lambda s: (-s[0], -s[1]))
    return [phrase for _, _, phrase in spans]


def widen(phrase: str, text: str) -> str:
    """The model often names only the tail of a phrase ("Extrême-Orient"): extend it leftwards in `text` over
    "de"/"of" links (and, in English, adjectives and nouns) up to its article: "le gazoduc d'Extrême-Orient".
    A lone name ("Poutine" in "le conseiller de Poutine") is taken as meant."""
    tokens = tokenize(text)
    want = [t.key for t in tokenize(phrase)]
    keys = [t.key for t in tokens]
    starts = [i for i in range(len(tokens) - len(want) + 1) if keys[i : i + len(want)] == want]
    if not want or not starts:
        return phrase
    first, last = starts[-1], starts[-1] + len(want) - 1
    french = detect_language(text) == "fr"
    articles = {"le", "la", "les", "l'", "un", "une"} if french else {"the", "a", "an"}
    name = len(want) == 1 and tokens[first].text[:1].isupper() and "-" not in tokens[first].text
    while not name and first >= 2 and tokens[first - 1].key in {"de", "d'", "of"} and _is_content(tokens[first - 2]):
        first -= 2
    while not french and first >= 1 and _is_content(tokens[first - 1]) and tokens[first - 1].key not in _EN_AUX:
        first -= 1
    prefix = ""
    if first and tokens[first - 1].key in articles:
        first -= 1
    elif french and first and tokens[first - 1].key in _CONTRACTIONS and tokens[first].key not in articles:
        prefix = _CONTRACTIONS[tokens[first - 1].key] + " "
    if tokens[first].key in articles or prefix:
        return prefix + text[tokens[first].start : tokens[last].end]
    return phrase if first == starts[-1] else text[tokens[first].start : tokens[last].end]


def _singular(phrase: str, pronoun: str) -> str:
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


def _strip_leading(text: str) -> str:
    tokens = tokenize(text)
    i = 0
    while i < len(tokens) - 1 and (tokens[i].key in _LEADING or tokens[i].text == ","):
        i += 1
    return text[tokens[i].start :] if i else text


def _elide(word: str, phrase: str) -> str:
    """'que' + 'Iouri' gives "qu'Iouri"."""
    return f"{word[:-1]}'{phrase}" if _fold(phrase[:1]) in "aeiouyh" and word.endswith("e") else f"{word} {phrase}"


def splice(question: str, referent: str, ref: Reference) -> str:
    """The follow-up with the referent in place of what refers back."""
    full = question.strip()
    text = _strip_leading(full)
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
            inv = _INVERTED.match(tok.text)
            before = text[: tok.start]
            if before.rstrip().lower().endswith(("qu'", "qu’")):  # "Qu'a-t-il déclaré" -> "Qu'est-ce que X a déclaré"
                return _cap(f"{before.rstrip()[:-3]}qu'est-ce {_elide('que', referent)} {inv.group(1)}{text[tok.end:]}")
            verb = text[tok.start :] if before.strip() else text[tok.start].lower() + text[tok.start + 1 :]
            return _cap(f"{before}{referent} {verb}")
        if tok and ref.kind == "pronoun":
            before = text[: tok.start]
            if before.lower().endswith(("qu'", "qu’")):
                return _cap(before[:-3] + _elide("que", referent) + text[tok.end :])
            return _cap(before + referent + text[tok.end :])
        if tok and ref.kind == "demonstrative" and i + 1 < len(tokens):
            noun = tokens[i + 1]
            if noun.key in [_fold(w) for w in re.findall(r"\w+", referent)]:
                return _cap(text[: tok.start] + referent + text[noun.end :])
        if tok and ref.kind == "possessive" and tok.key in {"its", "his", "their"}:
            return _cap(text[: tok.start] + referent + "'s" + text[tok.end :])
    # elliptical, or no pronoun to replace: name the subject first
    first = tokens[0].key if tokens else ""
    body = text[:1].lower() + text[1:] if first in STOPWORDS or first in _QUESTION_WORDS or first in _PREPOSITIONS else text
    if ref.language == "fr":
        return f"À propos {_de(referent)} : {body}"
    return f"Regarding {referent}: {body}"


def _de(phrase: str) -> str:
    """'de' + 'le gazoduc' gives 'du gazoduc'."""
    low = phrase.lower()
    return "du " + phrase[3:] if low.startswith("le ") else "des " + phrase[4:] if low.startswith("les ") else _elide("de", phrase)


# ---- the model's part ---------------------------------------------------------------------------------------------
PROMPTS = {  # (instructions, labels, a worked example)
    "fr": ("Dans la question précédente, trouve le nom (le sujet) auquel la question de suivi fait référence. "
           "Écris seulement ce groupe nominal, tel qu'il est écrit.", "Question précédente :", "Question de suivi :",
           ("Qui a construit la tour Eiffel ?", "Et quand a-t-elle été achevée ?", "la tour Eiffel")),
    "en": ("In the previous question, find the noun phrase (the subject) that the follow-up question refers to. "
           "Write only that noun phrase, as written.", "Previous question:", "Follow-up question:",
           ("Who built the Eiffel Tower?", "And when was it finished?", "the Eiffel Tower")),
}


def referent_messages(previous: str, question: str, language: str) -> list[dict[str, str]]:
    system, prev_label, follow_label, (ex_prev, ex_follow, ex_answer) = PROMPTS.get(language, PROMPTS["en"])
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"{prev_label} {ex_prev}\n{follow_label} {ex_follow}"},
        {"role": "assistant", "content": ex_answer},
        {"role": "user", "content": f"{prev_label} {previous}\n{follow_label} {question}"},
    ]


def check_referent(text: str, previous: str) -> str | None:
    """The model's referent if usable: short, a phrase of the previous question, with a content word."""
    phrase = text.strip().strip("«»\"'“”.?!:;").strip()
    if not phrase or len(phrase) > 120 or len(phrase.split()) > 12 or "\n" in phrase:
        return None
    norm = lambda s: " ".join(re.findall(r"\w+", _fold(s)))  # noqa: E731
    bare = re.sub(r"^(?:le|la|les|l|un|une|the|a|an) ", "", norm(phrase))  # "le gazoduc" for "du gazoduc"
    if not bare or f" {bare} " not in f" {norm(previous)} ":
        return None
    if not any(_is_content(t) for t in tokenize(phrase)):
        return None
    return phrase


@dataclass
class Rewrite:
    question: str  # what was typed
    standalone: str  # what is asked; equal to question when nothing was rewritten
    referent: str = ""
    source: str = ""  # "model", "answer", "heuristic", or "" when not rewritten
    seconds: float = 0.0
    model_calls: int = 0  # generator calls spent on this rewrite (0 for a self-contained question)

    @property
    def rewritten(self) -> bool:
        return self.standalone != self.question


class Rewriter:
    """Makes follow-ups standalone against the previous standalone question; the generator is optional."""

    def __init__(self, generator=None, max_chars: int = 2000):
        self.generator = generator
        self.max_chars = max_chars

    def referent(self, previous: str, question: str, ref: Reference, answer: str = "") -> tuple[str, str, int]:
        """(referent, how it was found, model calls spent)."""
        candidates = noun_phrases(previous)
        chosen, source = None, ""
        pronoun = _INVERTED.sub(r"\3", tokenize(question)[ref.index].key) if ref.index >= 0 else ""
        slot = re.search(r"(?i)\b(?:quel|quelle|quels|quelles|which|what)\s+(\w+)", previous)
        if slot and answer:  # "De quel gazoduc ... ?" -> "Le gazoduc d'Extrême-Orient [1]." names it
            filled = [p for p in noun_phrases(re.sub(r"\[\d+\]", "", answer)) if _fold(slot.group(1)) in _fold(p).split()]
            if filled:
                return _singular(filled[0], pronoun), "answer", 0
        if self.generator is not None:
            language = detect_language(previous) if ref.kind == "elliptical" else ref.language
            try:
                out = self.generator.generate(referent_messages(previous, question, language), 24, stop=["\n"]).text
            except Exception:  # noqa: BLE001 - the heuristic takes over
                out = ""
            chosen = check_referent(out, previous)
            if chosen and pronoun in {"it", "il", "elle", "he", "she"} and re.search(r"\b(and|et)\b", chosen):
                chosen = None  # a singular pronoun does not stand for "Putin and Xi"
            if chosen:
                chosen, source = widen(chosen, previous), "model"
        if not chosen and candidates:
            chosen, source = candidates[0], "heuristic"
        calls = int(self.generator is not None)
        return (_singular(chosen, pronoun), source, calls) if chosen else ("", "", calls)

    def rewrite(self, question: str, previous: str | None, answer: str = "") -> Rewrite:
        """`question` made standalone against the previous standalone question (and its answer, if any)."""
        question = question.strip()
        if not previous:
            return Rewrite(question, question)
        ref = detect_reference(question)
        if ref is None:
            return Rewrite(question, question)
        started = time.perf_counter()
        referent, source, calls = self.referent(previous, question, ref, answer)
        standalone = splice(question, referent, ref) if referent else question
        if not standalone.strip() or len(standalone) > min(self.max_chars, len(question) + len(referent) + 40):
            standalone = question
        return Rewrite(question, standalone, referent, source if standalone != question else "",
                       time.perf_counter() - started, calls)
