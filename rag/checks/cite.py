"""Never trust the model's citation markers: check them, attribute claims to the sentences that support them,
and refuse answers whose key content (numbers, names, dates) the cited text does not contain."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from index.sentences import sentence_spans
from rag.text.months import EN_TO_FR as _EN_FR_MONTHS  # calendar words: an English answer's month in a French source
from rag.text.numbers import number_keys
from rag.schema import Citation, Passage
from rag.checks.question_type import ASKS_QUANTITY, MEASURE_UNITS, QUANTITY_WORDS, WRONG_KIND, asks_when, fits_question_type
from rag.text.textnorm import NUMBER_WORDS, content_words, fold, same_word, words
from rag.checks.wording import source_span, source_wording

_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_ABSTAIN = re.compile(
    r"je ne sais pas|je n'en sais rien|aucune information|ne (?:contiennent|contient|donnent|donne|mentionnent|mentionne|"
    r"précisent|précise|indiquent|indique) pas|n'est pas (?:mentionnée?|indiquée?|précisée?|donnée?)|"
    r"pas d'information|i don'?t know|i do not know|not (?:mentioned|specified|provided|given|stated|in the)|"
    r"no information|do(?:es)? not (?:contain|mention|say|specify|provide|give)|cannot be determined",
    re.IGNORECASE,
)


@dataclass
class Verdict:
    answer: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    reason: str = ""


UNSURE = "the model was unsure of its answer"  # the confidence gate's reason, which eval.calibrate re-decides
OFF_QUESTION = "the supporting sentence does not match the question"
UNNAMED = "the documents never mention"  # nothing there is about what the question names: no sentence may stand in


def unsure(confidence: float | None, threshold: float) -> bool:
    """The confidence gate: a confidence under the threshold (None: the backend gives none, so no gate)."""
    return confidence is not None and confidence < threshold


def parse_markers(text: str) -> tuple[str, list[int]]:
    """Answer text without [n] markers, and the numbers cited in order of appearance."""
    cited: list[int] = []
    for match in _MARKER.finditer(text):
        for n in re.split(r"\s*[,;]\s*", match.group(1)):
            if int(n) not in cited:
                cited.append(int(n))
    clean = _MARKER.sub("", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", clean).strip(), cited


def is_abstention(text: str) -> bool:
    return bool(_ABSTAIN.search(text))


_LETTER_RUN = re.compile(r"[^\W\d_]+")  # a name's letters: "TS050" and "GAZ-69" give "TS" and "GAZ"


def key_terms(answer: str) -> tuple[list[str], list[str]]:
    """Numbers and proper names in the answer: the content a grounding check must find in the sources."""
    numbers = number_keys(answer)
    names = []
    for match in _LETTER_RUN.finditer(answer):
        word = match.group()
        sentence_start = match.start() == 0 or answer[: match.start()].rstrip().endswith((".", "!", "?", ":"))
        if word[0].isupper() and not sentence_start and len(word) > 1:
            names.append(fold(word))
    return numbers, names


def _similar(word: str, candidates: set[str]) -> bool:
    word = _EN_FR_MONTHS.get(word, word)
    if word in candidates:
        return True
    return any(
        SequenceMatcher(None, word, c).ratio() >= (0.72 if c[:1] == word[:1] else 0.78)
        for c in candidates
        if abs(len(c) - len(word)) <= 3
    )


def ungrounded_terms(answer: str, evidence: str, question: str) -> list[str]:
    """Key terms of the answer found neither in the evidence nor in the question (which the user supplied)."""
    numbers, names = key_terms(answer)
    folded_evidence = set(words(evidence))
    # Names are read as letter runs, so the evidence's codes ("ts050") are split the same way.
    evidence_names = set(_LETTER_RUN.findall(fold(evidence)))
    evidence_numbers = set(number_keys(evidence))
    evidence_numbers |= {str(NUMBER_WORDS[w]) for w in folded_evidence if w in NUMBER_WORDS}
    question_numbers = set(number_keys(question))
    evidence_words = folded_evidence | evidence_names | set(words(question))
    missing = [n for n in numbers if n not in evidence_numbers and n not in question_numbers]
    missing += [w for w in names if not _similar(w, evidence_words)]
    return missing


@lru_cache(maxsize=64)
def _document_words(text: str) -> frozenset[str]:
    return frozenset(words(text))


def unmentioned_names(question: str, documents: list[str], asked_as: str | None = None) -> list[str]:
    """The question's names ("Bruce Nauman") when the documents mention none of them: an answer drawn from them is
    about something else. Empty when the question names nothing or one of its names is found.
    For a translated question, `asked_as` is the user's own wording: only names found in both count, since a proper
    name survives translation ("Putin", "Poutine") and a capitalised common word ("Far East") does not."""
    _, names = key_terms(question)
    if asked_as is not None:
        own = set(key_terms(asked_as)[1])
        names = [name for name in names if _similar(name, own)]
    if not names:
        return []
    document_words = frozenset().union(*map(_document_words, documents))
    missing = [name for name in names if not _similar(name, document_words)]
    # One name found is enough: a paragraph may call its subject "elle", and a question may misspell one name.
    return missing if len(missing) == len(names) else []


def _echoes(word: str, question_word: str) -> bool:
    """The same word, or one of similar length sharing its first five letters ("francophonie" is not "France")."""
    return same_word(word, question_word) and min(len(word), len(question_word)) >= 0.6 * max(len(word), len(question_word))


def adds_content(claim: str, question: str) -> bool:
    """False when every content word of the answer already stands in the question (an echo, not an answer).
    To "combien de fois" a number word is the content ("une fois"), though elsewhere "une" is an article."""
    question_words = content_words(question)
    claim_words = content_words(claim)
    if ASKS_QUANTITY.search(fold(question)):
        claim_words += [w for w in words(claim) if w in QUANTITY_WORDS and w not in question_words]
    return any(not any(_echoes(w, q) for q in question_words) for w in claim_words)


_GENERIC_QUESTION_WORDS = set(
    "temps jour date annee mois heure moment nom type sorte chose quoi longtemps lieu endroit facon maniere raison "
    "time day year month hour name kind sort thing place way reason long many much".split()
)


# Units and measures say what is asked, not what it is about: "combien de kilomètres de long" shares them with any
# length in the document, so they do not make a sentence relevant.
_MEASURE_WORDS = MEASURE_UNITS | set(
    "longueur hauteur largeur distance duree prix cout montant length height width distance duration price cost amount".split()
)


def asked_words(question: str) -> list[str]:
    """The question's content words that say what it is about: units, measures and generic words ("jour") aside."""
    return [w for w in content_words(question) if w not in _GENERIC_QUESTION_WORDS and w not in _MEASURE_WORDS]


def relevant_to(sentence: str, question: str) -> bool:
    """The sentence shares at least one content word with the question (the answer alone is not enough), units and
    measure words aside."""
    asked = asked_words(question)
    if not asked:
        return True
    sentence_words = content_words(sentence)
    return any(same_word(q, w) for q in asked for w in sentence_words)


def _question_overlap(asked: set[str], sentence: str) -> float:
    """How many of the question's asked words (`asked_words`) the sentence holds; numbers count double."""
    sentence_words = content_words(sentence)
    return float(sum((2.0 if q.isdigit() else 1.0) for q in asked if any(same_word(q, w) for w in sentence_words)))


def _overlap_score(claim_words: list[str], sentence: str) -> float:
    sentence_words = set(content_words(sentence))
    score = 0.0
    for word in set(claim_words):
        if word in sentence_words:
            score += 2.0 if word.isdigit() else 1.0
        elif len(word) >= 4 and any(s.startswith(word[:5]) or word.startswith(s[:5]) for s in sentence_words if len(s) >= 4):
            score += 0.5
    return score


@dataclass
class _Sentence:
    passage: Passage
    start: int  # document offsets
    end: int
    text: str


def passage_sentences(passage: Passage) -> list[_Sentence]:
    spans = sentence_spans(passage.text)
    return [_Sentence(passage, passage.start + s, passage.start + e, passage.text[s:e]) for s, e in spans]


def attribute(claim: str, question: str, passages: list[Passage], cited: list[int]) -> list[_Sentence]:
    """Sentences that support the claim. Key terms (numbers, names) found decide first, word overlap with the claim
    and the question second, and the model's own markers only break ties: a wrong [n] is corrected, a missing one
    supplied. A second sentence is added when it holds key terms the first lacks (answers spanning two sentences)."""
    claim_words = content_words(claim)
    if not claim_words:
        return []
    numbers, names = key_terms(claim)
    n_keys = len(numbers) + len(names)
    asked = set(asked_words(question))
    scored = []
    for p in passages:
        bonus = 0.25 if p.n in cited else 0.0
        for s in passage_sentences(p):
            overlap = _overlap_score(claim_words, s.text)
            covered = n_keys - len(ungrounded_terms(claim, s.text, ""))
            if overlap <= 0 and covered <= 0:  # a spelled number ("second" for "2ème") counts as a match
                continue
            # The question's own words (its dates count double) pick, among sentences holding the answer's terms,
            # the one that answers it: "Donald Trump" is in many sentences, "le 17 janvier" in one.
            scored.append((covered, overlap + bonus + _question_overlap(asked, s.text), p.score, s))
    if not scored:
        return []
    scored.sort(key=lambda x: (-x[0], -x[1], -x[2]))  # then the better passage, wherever the prompt put it
    best = [scored[0][3]]
    missing = ungrounded_terms(claim, best[0].text, question)
    if missing:
        for *_, sentence in scored[1:]:
            if len(ungrounded_terms(claim, best[0].text + " " + sentence.text, question)) < len(missing):
                best.append(sentence)
                break
    return best


def _marked(passages: list[Passage], cited: list[int]) -> list[_Sentence]:
    """The sentences of the passages the model marked, in the order it marked them."""
    by_number = {p.n: p for p in passages}
    return [s for n in cited if n in by_number for s in passage_sentences(by_number[n])]


def to_citations(sentences: list[_Sentence], source_text: dict[str, str]) -> list[Citation]:
    citations = []
    for s in sentences:
        quote = source_text[s.passage.doc_id][s.start : s.end]
        citations.append(Citation(n=s.passage.n, doc_id=s.passage.doc_id, chunk_id=s.passage.chunk_id,
                                  start=s.start, end=s.end, quote=quote))
    return citations


def shorten(answer: str, max_words: int = 50) -> str:
    words = answer.split()
    if len(words) <= max_words:
        return answer
    return " ".join(words[:max_words]).rstrip(",;:") + "…"


def extractive_answer(passage: Passage, source_text: dict[str, str]) -> Verdict:
    """The best evidence sentence itself, quoted and cited, for when the model's own answer failed its checks."""
    sentence = _Sentence(passage, passage.start, passage.end, passage.text)
    return Verdict(f"« {shorten(passage.text)} » [{passage.n}]", to_citations([sentence], source_text), reason="extractive")


_YES_NO = {"oui", "non", "yes", "no"}


def is_yes_no(claim: str) -> bool:
    return fold(claim).strip().rstrip(".!") in _YES_NO


def _yes_no_verdict(claim: str, question: str, passages: list[Passage], cited: list[int],
                    source_text: dict[str, str], same_language: bool = True) -> Verdict:
    """A yes/no answer cites the sentence that best matches the question (which of yes/no: rag.checks.polarity)."""
    sentences = attribute(question, question, passages, cited)[:1]  # the model's marker only breaks ties
    if not sentences and not same_language:
        sentences = _marked(passages, cited)[:1]
    if not sentences or (same_language and not relevant_to(sentences[0].text, question)):
        return Verdict("", abstained=True, reason="no passage supports the answer")
    return Verdict(f"{claim} [{sentences[0].passage.n}].", to_citations(sentences, source_text))


def verify(raw: str, question: str, passages: list[Passage], source_text: dict[str, str],
           asked_as: str | None = None, same_language: bool = True,
           answer_in_source_language: bool | None = None) -> Verdict:
    """The checked answer, or an abstention with its reason. `asked_as`: the user's question when `question` is
    its translation. `same_language` False: the question and the passages are in two languages (an English question
    answered straight from French passages), so no word of one can be looked for in the other.
    `answer_in_source_language` (default: same_language): the answer is written in the passages' language, so it
    can be given back in the cited sentence's own words."""
    if answer_in_source_language is None:
        answer_in_source_language = same_language
    claim, cited = parse_markers(raw)
    claim = re.sub(r"^(?:réponse|answer)\s*:\s*", "", claim, flags=re.IGNORECASE).strip()
    if not claim or is_abstention(claim):
        return Verdict("", abstained=True, reason="the model found no answer in the passages")
    unnamed = unmentioned_names(question, [source_text[d] for d in dict.fromkeys(p.doc_id for p in passages)], asked_as)
    if unnamed:
        return Verdict("", abstained=True, reason=f"{UNNAMED} {', '.join(unnamed[:3])}")
    if is_yes_no(claim):
        return _yes_no_verdict(claim.rstrip(".!"), question, passages, cited, source_text, same_language)
    if not adds_content(claim, question):
        return Verdict("", abstained=True, reason="the answer only repeats the question")
    if not fits_question_type(claim, question):
        return Verdict("", abstained=True, reason=WRONG_KIND)
    sentences = attribute(claim, question, passages, cited)
    if not sentences and not same_language:  # no shared words across two languages: the model's own marker
        sentences = _marked(passages, cited)[:1]
    if not sentences:
        return Verdict("", abstained=True, reason="no passage supports the answer")
    if same_language and not any(relevant_to(s.text, question) for s in sentences):
        return Verdict("", abstained=True, reason=OFF_QUESTION)
    evidence = " ".join(p.text for p in passages if p.n in {s.passage.n for s in sentences})
    missing = ungrounded_terms(claim, evidence, question)
    if missing:
        return Verdict("", abstained=True, reason=f"not in the cited passages: {', '.join(missing[:5])}")
    numbers = sorted({s.passage.n for s in sentences})
    if answer_in_source_language:
        claim = source_span(claim, [s.text for s in sentences])
    if not asks_when(question):  # a year stays a year
        reworded = source_wording(claim, [s.text for s in sentences], question)
        # Checked again only when reworded: the source's unit shows what a bare number counted.
        if reworded != claim and not fits_question_type(reworded, question):
            return Verdict("", abstained=True, reason=WRONG_KIND)
        claim = reworded
    answer = shorten(claim).rstrip()
    marker = "".join(f"[{n}]" for n in numbers)
    if answer.endswith((".", "!", "?", "…")):
        answer = f"{answer[:-1]} {marker}{answer[-1]}"
    else:
        answer = f"{answer} {marker}"
    return Verdict(answer, to_citations(sentences, source_text))
