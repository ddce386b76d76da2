"""Answers in the source's own words: a number the model wrote in digits is given back as the cited sentence
writes it ("12" where the text says "douze buts"), with the noun it counts ("12 000" -> "12 000 hommes").

The small model turns spelled numbers into digits and drops the unit. The answer then no longer matches the
text it cites, and a reader cannot tell twelve what. Only the wording changes: the grounding check has already
accepted the number."""
from __future__ import annotations

import re

from rag.text.numbers import INTEGER
from rag.text.textnorm import MONTHS, NUMBER_WORDS, STOPWORDS, content_words, fold, same_word, strip_accents

# What follows a number in a sentence: an optional multiplier and "de", then the word it counts.
_COUNTED_AFTER = re.compile(
    r"[ \u00a0\u202f]+((?:(?:millions?|milliards?|mille|billions?|thousands?|hundreds?)[ \u00a0\u202f]+)?"
    r"(?:(?:de|d'|d’|of)[ \u00a0\u202f]*)?([^\W\d_][\w'’-]*))"
)
# Words that follow a number without being what it counts.
_NOT_COUNTED = MONTHS | set(
    "et ou a au aux en dans sur sous par pour avec contre environ autre autres other others dernier derniers "
    "derniere dernieres".split()
)


def _occurrences(number: int, sentence: str) -> list[tuple[int, int]]:
    """Where the sentence writes `number`: in digits first, then spelled ("douze", "septième")."""
    spans = [m.span() for m in INTEGER.finditer(sentence) if int(re.sub(r"\D", "", m.group())) == number]
    plain = strip_accents(sentence).lower()
    if len(plain) != len(sentence):  # offsets must stay those of the sentence
        return spans
    for word in (w for w, n in NUMBER_WORDS.items() if n == number):
        spans += [m.span() for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", plain)]
    return spans


def _counted_noun(sentence: str, end: int) -> str | None:
    """The words after a number that say what it counts ("hommes", "millions d'habitants"), if a noun follows."""
    after = _COUNTED_AFTER.match(sentence, end)
    if not after:
        return None
    noun = fold(after.group(2))
    if noun in STOPWORDS or noun in _NOT_COUNTED or len(noun) < 3 or after.group(2)[0].isupper():
        return None
    return sentence[end : after.end()]


def source_wording(claim: str, sentences: list[str], question: str) -> str:
    """`claim`, reworded from the cited sentences when it is a bare number (see the module docstring). Where the
    number occurs more than once, the occurrence that counts a noun of the question wins ("deux centrales" for
    "combien de centrales", not the "2" of "Power of Siberia 2"), then one in digits as the model wrote it."""
    stripped = claim.strip().rstrip(".")
    if not INTEGER.fullmatch(stripped):
        return claim
    number = int(re.sub(r"\D", "", stripped))
    asked = {w[:5] for w in content_words(question)}
    best, best_rank = claim, -1.0
    for sentence in sentences:
        for start, end in _occurrences(number, sentence):
            noun = _counted_noun(sentence, end)
            if noun and any(w[:5] in asked for w in content_words(noun)):
                rank = 2.0
            else:  # the model's own digits where the sentence has them, a counted noun if any
                rank = float(sentence[start].isdigit()) + 0.5 * bool(noun)
            if rank > best_rank:
                best, best_rank = sentence[start:end] + (noun or ""), rank
    return best


_WORD = re.compile(r"[^\W_][\w'’-]*")
_ARTICLES = {"le", "la", "les", "l", "un", "une", "des", "du", "de", "d", "the", "a", "an"}


def source_span(claim: str, sentences: list[str], slack: int = 1, max_words: int = 6) -> str:
    """`claim` as the cited sentence words it: the shortest run of a sentence's words that holds every word of the
    claim (the same word, or one sharing its first five letters; a leading article may be missing), at most `slack`
    words longer than the claim. The small model paraphrases what it reads ("Economie et commerce" for "économique
    et commerciale", "Ligne de démarcation actuelle" for "lignes de démarcation actuelles"); the source's words are
    what the citation quotes. "Il devrait débuter en 2027" stays as it is ("Il" is not in the sentence), and so does
    any claim that says more than one stretch of a sentence, or more than `max_words` words (a sentence, not a
    phrase)."""
    words = [(m.group(), fold(m.group()).strip()) for m in _WORD.finditer(claim)]
    article = words.pop(0)[1] if words and words[0][1] in _ARTICLES else None
    wanted = [folded for _, folded in words]
    if not content_words(" ".join(wanted)) or len(wanted) > max_words or INTEGER.fullmatch(claim.strip().rstrip(".")):
        return claim
    limit = len(wanted) + slack
    best = None
    for sentence in sentences:
        tokens = [(m.start(), m.end(), fold(m.group()).strip()) for m in _WORD.finditer(sentence)]
        for i, (start, _, first) in enumerate(tokens):
            if not any(same_word(first, w) for w in wanted):
                continue  # a run starts and ends on a word of the claim
            missing = list(wanted)  # a word the claim repeats must be there twice
            for _, end, word in tokens[i:i + limit]:
                hit = next((k for k, w in enumerate(missing) if same_word(word, w)), None)
                if hit is not None:
                    missing.pop(hit)
                if not missing:
                    if article and i and tokens[i - 1][2] == article:  # "Les relations", as the claim had it
                        start = tokens[i - 1][0]
                    span = _trimmed(sentence, start, end, words[0][0] if not article else article, claim)
                    if best is None or len(span) < len(best):
                        best = span
                    break
    if best and claim[:1].isupper():  # the answer's own capital, for display
        best = best[:1].upper() + best[1:]
    return best or claim


def _trimmed(sentence: str, start: int, end: int, first_word: str, claim: str) -> str:
    """The run, without an elided article the claim's first word lacks ("L'Organisation" for "Organisation"), and
    with a closing bracket or quote the claim has ("(OCS)")."""
    elided = re.match(r"[^\W\d_]{1,3}['’]", sentence[start:end])
    if elided and not re.match(r"[^\W\d_]{1,3}['’]", first_word):
        start += elided.end()
    closing = claim.rstrip(" .")[-1:]
    if closing in ")]»”\"" and sentence[end:end + 1] == closing:
        end += 1
    return sentence[start:end]
