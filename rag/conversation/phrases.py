"""Noun phrases of a question or answer: the candidate referents of a follow-up's pronoun, best first, with the
article they need ("du gazoduc" gives "le gazoduc", "Quelle chaîne" gives "la chaîne"). Verbs are left out by their
place (after an auxiliary, "who", or before an object), since no part-of-speech tagger ships offline here."""
from __future__ import annotations

import re

from rag.conversation.refer import EN_AUX, FR_AUX, INVERTED, TIME_NOUNS, Token, contraction, fold_token, is_content, tokenize
from rag.text.lang import detect_language

_CONNECTORS = {"de", "d'", "du", "des", "pour", "via", "entre", "et", "au", "aux", "of", "for", "between", "and", "through"}
_PARTICIPLE = re.compile(r"(?:e|es|ee|ees|i|is|it|u|us)$")
_FR_VERB_AFTER = {"que", "qu'", "quand", "ou", "comment", "pourquoi", "qui"}  # "Que disent...", "Qui dirige..."
_EN_OBJECT_START = {"the", "a", "an", "his", "her", "their", "its", "this", "that", "these", "those"}
_SLOT_ARTICLES = {"quel": "le", "quelle": "la", "quels": "les", "quelles": "les"}  # the article a "quel N" calls for
_ADVERBS = {"deja", "encore", "bien", "toujours", "jamais", "pas", "plus", "aussi", "egalement", "enfin", "finalement",
            "recemment", "nouveau"}  # between an auxiliary and its participle
_INFINITIVE = re.compile(r"\w{2,}(?:er|ir|dre|ttre|ire|vre)$")


def _before_adverbs(tokens: list[Token], n: int) -> int:
    """The index of the token before `n`, past adverbs: the auxiliary of "s'est de nouveau dit"."""
    m = n - 1
    while m > 0 and tokens[m].key in _ADVERBS:
        m -= 2 if tokens[m].key == "nouveau" and m > 1 and tokens[m - 1].key in {"de", "a"} else 1
    return m


def noun_phrases(text: str) -> list[str]:
    """Candidate referents in `text`, best first: runs of content words joined by "de", "of", "'s"..., with their
    article ("du gazoduc" gives "le gazoduc")."""
    tokens = tokenize(text)
    french = detect_language(text) == "fr"
    articles = {"le", "la", "les", "l'", "un", "une"} if french else {"the", "a", "an"}
    content = [is_content(t) for t in tokens]
    for n in range(1, len(tokens)):
        prev = tokens[n - 1].key
        verb_slot = tokens[_before_adverbs(tokens, n)]  # "a déclaré", "s'est de nouveau dit", "n'a pas dit"
        after_aux = verb_slot.key in FR_AUX or INVERTED.match(verb_slot.text)  # … "l'a-t-elle annoncé"
        if french and content[n] and (after_aux and _PARTICIPLE.search(tokens[n].key) or prev in _FR_VERB_AFTER):
            content[n] = False  # "a déclaré", "que disent", "qui dirige": verbs
        if french and content[n] and tokens[n].key in _ADVERBS and tokens[n].key != "nouveau":
            content[n] = False  # "déjà", "encore": never what a pronoun stands for
        after = prev in {"a", "pour", "sans"} or tokens[n - 1].text.lower() in {"dû", "pu", "voulu", "su"}
        if french and content[n] and after and tokens[n].text.islower() and _INFINITIVE.search(tokens[n].key):
            content[n] = False  # "prêt à négocier", "a dû fermer": infinitives (a noun there takes an article)
        if content[n] and prev in {"quel", "quelle", "which", "what"} and tokens[n].key in TIME_NOUNS:
            content[n] = False  # "quel jour", "which year": what is asked, not a referent
        if content[n] and prev in {"de", "a"} and tokens[n].key == "nouveau":
            content[n] = False  # "de nouveau", "à nouveau": again
        follows = tokens[n + 1].key if n + 1 < len(tokens) else ""
        if not french and content[n] and tokens[n].text.islower() and \
                (prev == "who" or tokens[n].key.endswith("ed") and follows in _EN_OBJECT_START):
            content[n] = False  # "Who sent…", "Which official described the…": a verb ("the armed forces" stays)
    # "Quelle déclaration Poutine a-t-il saluée": the noun asked for (with its adjectives) is a phrase of its own, not
    # joined to the named subject after it
    slots = {n for n in range(1, len(tokens)) if tokens[n - 1].key in {"quel", "quelle", "quels", "quelles", "which"}}
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
            if i in slots and k < len(tokens) and tokens[k].text[:1].isupper():
                break
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
        elif first in slots:  # "Quelle chaîne américaine" names "la chaîne américaine", "which official" "the official"
            prefix = _SLOT_ARTICLES.get(before, "the") if french else "the"
            prefix = "l'" if prefix in ("le", "la") and fold_token(tokens[first].text[:1]) in "aeiouyh" else prefix + " "
        elif french and first and contraction(tokens[first - 1]):
            prefix, bonus = contraction(tokens[first - 1]) + " ", 1.0
        verb_follows = last + 1 < len(tokens) and tokens[last + 1].key in {"be", "been", "being", "have", "get"}
        if first and tokens[first - 1].key in EN_AUX and last > i and tokens[last].text.islower() and not verb_follows:
            last -= 1  # "did Putin and Xi discuss": drop the main verb after the subject ("will the units be built": none)
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
    while not name and first >= 2 and tokens[first - 1].key in {"de", "d'", "of"} and is_content(tokens[first - 2]):
        first -= 2
    while not french and first >= 1 and is_content(tokens[first - 1]) and tokens[first - 1].key not in EN_AUX:
        first -= 1
    prefix = ""
    if first and tokens[first - 1].key in articles:
        first -= 1
    elif french and first and contraction(tokens[first - 1]) and tokens[first].key not in articles:
        prefix = contraction(tokens[first - 1]) + " "
    if tokens[first].key in articles or prefix:
        return prefix + text[tokens[first].start : tokens[last].end]
    return phrase if first == starts[-1] else text[tokens[first].start : tokens[last].end]
