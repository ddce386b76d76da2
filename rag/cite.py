"""Never trust the model's citation markers: check them, attribute claims to the sentences that support them,
and refuse answers whose key content (numbers, names, dates) the cited text does not contain."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from index.sentences import sentence_spans
from rag.schema import Citation, Passage
from rag.textnorm import MONTHS, NUMBER_WORDS, STOPWORDS, content_words, fold
from rag.wording import source_wording

_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_ABSTAIN = re.compile(
    r"je ne sais pas|je n'en sais rien|aucune information|ne (?:contiennent|contient|donnent|donne|mentionnent|mentionne|"
    r"précisent|précise|indiquent|indique) pas|n'est pas (?:mentionnée?|indiquée?|précisée?|donnée?)|"
    r"pas d'information|i don'?t know|i do not know|not (?:mentioned|specified|provided|given|stated|in the)|"
    r"no information|do(?:es)? not (?:contain|mention|say|specify|provide|give)|cannot be determined",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[ \u00a0\u202f.,]\d{3})*(?:[.,]\d+)?")
# English spellings of words the French sources write differently, for the grounding check.
_EN_FR = {
    "january": "janvier", "february": "fevrier", "march": "mars", "april": "avril", "may": "mai", "june": "juin",
    "july": "juillet", "august": "aout", "september": "septembre", "october": "octobre", "november": "novembre",
    "december": "decembre", "beijing": "pekin", "china": "chine", "chinese": "chinois", "russian": "russe",
    "american": "americain", "white": "blanche", "house": "maison", "europe": "europe", "european": "europeen",
}


_ASKS_QUANTITY = re.compile(r"\b(?:combien|how (?:many|much|long|far|old)|what (?:percentage|number|amount))\b")
_ASKS_DATE = re.compile(
    r"\b(?:(?:quel|quelle) (?:jour|date|annee|mois)|en quelle annee|a quelle date|"
    r"what (?:year|date|day|month)|which (?:year|date|day|month)|in what year)\b"
)
_ASKS_TIME = re.compile(r"\b(?:quand|depuis quand|a quel moment|when|at what time)\b")
_DAY_NAMES = MONTHS | set(
    "lundi mardi mercredi jeudi vendredi samedi dimanche monday tuesday wednesday thursday friday saturday sunday".split()
)
_CALENDAR_WORDS = _DAY_NAMES | set("hier demain yesterday tomorrow today".split())
_QUANTITY_WORDS = set(
    "un une deux trois quatre cinq six sept huit neuf dix onze douze treize quinze vingt trente quarante cinquante "
    "soixante cent cents mille million millions milliard milliards dizaine dizaines centaine centaines demi demie moitie "
    "plusieurs quelques one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty "
    "fifty hundred hundreds thousand thousands million millions billion half dozen several few".split()
)
_TIME_WORDS = _DAY_NAMES | set(
    "apres avant lors pendant depuis durant prochain prochaine hier demain aujourd after before during since upon "
    "following next yesterday tomorrow today soon bientot fin debut end beginning start".split()
)


_ASKS_DURATION = re.compile(r"\b(?:combien de temps|pendant combien|quelle (?:a ete |est |sera )?la duree|how much time|"
                            r"how long\b.*\b(?:last|lasts|lasted|take|takes|took|spend|spent)\b)")
_DURATION_UNITS = set(
    "seconde secondes minute minutes heure heures jour jours nuit nuits semaine semaines mois an ans annee annees "
    "siecle siecles decennie decennies second seconds hour hours day days night nights week weeks month months "
    "year years century centuries decade decades longtemps".split()
)
_MEASURE_UNITS = _DURATION_UNITS | set(
    "kilometre kilometres km metre metres centimetre centimetres kilo kilos kilogramme kilogrammes tonne tonnes "
    "litre litres euro euros dollar dollars yuan yuans rouble roubles kilometer kilometers meter meters mile miles "
    "ton tons".split()
)
_COUNTED_NOUNS = set("habitant habitants personne personnes soldat soldats people soldiers troops inhabitants".split())
# Words that name what a number counts or measures: an answer "1 300 kilometres" to "combien de soldats" is wrong.
_UNITS = _MEASURE_UNITS | _COUNTED_NOUNS
# The pivot checks a French answer against the English question: compare units in one language.
_UNIT_EN_FR = {
    "second": "seconde", "seconds": "secondes", "hour": "heure", "hours": "heures", "day": "jour", "days": "jours",
    "night": "nuit", "nights": "nuits", "week": "semaine", "weeks": "semaines", "month": "mois", "months": "mois",
    "year": "annee", "years": "annees", "ans": "annees", "an": "annee", "century": "siecle", "centuries": "siecles",
    "decade": "decennie", "decades": "decennies", "kilometer": "kilometre", "kilometers": "kilometres",
    "meter": "metre", "meters": "metres", "ton": "tonne", "tons": "tonnes", "people": "personnes",
    "soldiers": "soldats", "troops": "troupes", "inhabitants": "habitants",
}
_COUNTED = re.compile(r"\b(?:combien (?:de |d')|how many )((?:\w+ ?){1,3})")
_NUMBER_UNIT = re.compile(r"\d[\d ,.]*\s+(?:(?:millions?|milliards?|mille|billions?|thousands?|de|d|of)\s+)*(\w+)")


def _unit_mismatch(answer: str, asked: str) -> bool:
    """The question counts one thing ("combien de soldats") and the answer's number measures another (kilometres)."""
    counted = _COUNTED.search(asked)
    if not counted:
        return False
    counted_words = [_UNIT_EN_FR.get(w, w) for w in counted.group(1).split()]
    units = [_UNIT_EN_FR.get(u, u) for u in _NUMBER_UNIT.findall(answer) if u in _UNITS]
    return bool(units) and not any(_same_word(u, w) for u in units for w in counted_words)


# Questions whose answer is a name: "comment s'appellent…" (fold drops the "s'"), "what is the name of…".
_ASKS_NAME = re.compile(
    r"\b(?:comment\s+(?:s\s+)?appell?\w*|(?:quel|quelle|quels|quelles) (?:est|sont) (?:le|les) noms?|"
    r"(?:quelles?|quels?) (?:entreprises?|societes?|compagnies?)|(?:what|which) (?:is|are|was|were) the names?|"
    r"which (?:\w+ ){0,2}(?:company|companies|firms?)|what (?:is|are|was|were)\b.*\b(?:called|named))\b"
)


def names_something(claim: str) -> bool:
    """Whether the answer holds a proper name: a capitalised word after the first, an acronym, or a short answer
    that opens with a capitalised content word ("Gazprom")."""
    tokens = re.findall(r"\w[\w'-]*", claim)
    if any(t[:1].isupper() for t in tokens[1:]) or any(len(t) > 1 and t.isupper() for t in tokens):
        return True
    return 0 < len(tokens) <= 3 and tokens[0][:1].isupper() and fold(tokens[0]) not in STOPWORDS


# "Quel gazoduc…", "quelle est la fonction…", "which pipeline…": the noun the answer must be. Only nouns that can be
# answered by a bare number ("quelle année", "quel score") accept one.
_ASKS_WHICH = re.compile(
    r"\b(?:quel|quelle|quels|quelles)\s+(?:(?:est|sont|etait|etaient|fut|sera)\s+(?:(?:le|la|les)\s+)?)?(\w+)|"
    r"\bwhich\s+(\w+)|\bwhat\s+(?:is|are|was|were)\s+the\s+(\w+)"
)
_NUMERIC_NOUNS = set(
    "annee annees an ans date dates jour jours mois siecle siecles heure heures age nombre nombres montant montants "
    "prix cout couts taille hauteur longueur largeur superficie surface population score resultat resultats classement "
    "rang place position pourcentage part taux chiffre chiffres valeur budget duree distance poids vitesse temperature "
    "capacite numero effectif effectifs total somme salaire record altitude profondeur volume niveau periode epoque "
    "decennie moment saison edition quantite proportion frequence mesure note force evolution croissance hausse baisse "
    "augmentation diminution variation ecart difference "
    "year years day days month months century time number amount price cost size height length width area result "
    "ranking rank percentage share rate figure value duration weight speed capacity sum salary depth level period "
    "decade season quantity".split()
)
_BARE_NUMBER = re.compile(r"[\d\s.,%\u00a0\u202f]*\d[\d\s.,%\u00a0\u202f]*")


def _number_for_a_thing(claim: str, asked: str) -> bool:
    """A bare number answering "quel <noun>" where the noun is not a quantity or a time ("quel gazoduc" -> "2027")."""
    which = _ASKS_WHICH.search(asked)
    noun = which and next(g for g in which.groups() if g)
    return bool(noun) and noun not in _NUMERIC_NOUNS and bool(_BARE_NUMBER.fullmatch(claim.strip(" .")))


def fits_question_type(claim: str, question: str) -> bool:
    """A 'how many' question needs a quantity in the answer (in the unit it counts), 'how long' a duration, a
    'when' question a date or time expression, 'what is the name' a name, 'which <thing>' more than a number."""
    asked = fold(question)
    folded_claim = fold(claim)
    answer_words = set(re.findall(r"\w+", folded_claim))
    has_number = bool(re.search(r"\d", claim))
    if _ASKS_NAME.search(asked) and not names_something(claim):
        return False
    if _ASKS_DURATION.search(asked):
        return bool(answer_words & _DURATION_UNITS)
    if _unit_mismatch(folded_claim, asked) or _number_for_a_thing(claim, asked):
        return False
    if _ASKS_QUANTITY.search(asked):
        return has_number or bool(answer_words & (_QUANTITY_WORDS | _TIME_WORDS))
    if _ASKS_DATE.search(asked):
        return has_number or bool(answer_words & _CALENDAR_WORDS)
    if _ASKS_TIME.search(asked):
        return has_number or bool(answer_words & _TIME_WORDS)
    return True


def _asks_when(question: str) -> bool:
    """A date or time question ("quand", "en quelle année", "when")."""
    asked = fold(question)
    return bool(_ASKS_DATE.search(asked) or _ASKS_TIME.search(asked))


WRONG_KIND = "the answer is not the kind asked for (a date, a duration, a quantity, a name)"


@dataclass
class Verdict:
    answer: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    reason: str = ""


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


def _number_key(token: str) -> str:
    return re.sub(r"[ \u00a0\u202f.,]", "", token)


def key_terms(answer: str) -> tuple[list[str], list[str]]:
    """Numbers and proper names in the answer: the content a grounding check must find in the sources."""
    numbers = [_number_key(n) for n in _NUMBER.findall(answer)]
    names = []
    for match in re.finditer(r"[^\W\d_]+", answer):
        word = match.group()
        sentence_start = match.start() == 0 or answer[: match.start()].rstrip().endswith((".", "!", "?", ":"))
        if word[0].isupper() and not sentence_start and len(word) > 1:
            names.append(fold(word))
    return numbers, names


def _similar(word: str, candidates: set[str]) -> bool:
    word = _EN_FR.get(word, word)
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
    folded_evidence = set(re.findall(r"\w+", fold(evidence)))
    evidence_numbers = {_number_key(n) for n in _NUMBER.findall(evidence)}
    evidence_numbers |= {str(NUMBER_WORDS[w]) for w in folded_evidence if w in NUMBER_WORDS}
    question_numbers = {_number_key(n) for n in _NUMBER.findall(question)}
    evidence_words = folded_evidence | set(re.findall(r"\w+", fold(question)))
    missing = [n for n in numbers if n not in evidence_numbers and n not in question_numbers]
    missing += [w for w in names if not _similar(w, evidence_words)]
    return missing


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) >= 4 and len(b) >= 4 and a[:5] == b[:5])


def adds_content(claim: str, question: str) -> bool:
    """False when every content word of the answer already stands in the question (an echo, not an answer)."""
    question_words = content_words(question)
    return any(not any(_same_word(w, q) for q in question_words) for w in content_words(claim))


_GENERIC_QUESTION_WORDS = set(
    "temps jour date annee mois heure moment nom type sorte chose quoi longtemps lieu endroit facon maniere raison "
    "time day year month hour name kind sort thing place way reason long many much".split()
)


# Units and measures say what is asked, not what it is about: "combien de kilomètres de long" shares them with any
# length in the document, so they do not make a sentence relevant.
_MEASURE_WORDS = _MEASURE_UNITS | set(
    "longueur hauteur largeur distance duree prix cout montant length height width distance duration price cost amount".split()
)


def relevant_to(sentence: str, question: str) -> bool:
    """The sentence shares at least one content word with the question (the answer alone is not enough), units and
    measure words aside."""
    asked = [w for w in content_words(question) if w not in _GENERIC_QUESTION_WORDS and w not in _MEASURE_WORDS]
    if not asked:
        return True
    sentence_words = content_words(sentence)
    return any(_same_word(q, w) for q in asked for w in sentence_words)


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
    """Sentences that support the claim. Key terms (numbers, names) found decide first, word overlap second, and
    the model's own markers only break ties: a wrong [n] is corrected, a missing one supplied. A second sentence is
    added when it holds key terms the first lacks (answers spanning two sentences)."""
    claim_words = content_words(claim)
    if not claim_words:
        return []
    numbers, names = key_terms(claim)
    n_keys = len(numbers) + len(names)
    scored = []
    for p in passages:
        bonus = 0.25 if p.n in cited else 0.0
        for s in passage_sentences(p):
            overlap = _overlap_score(claim_words, s.text)
            covered = n_keys - len(ungrounded_terms(claim, s.text, ""))
            if overlap <= 0 and covered <= 0:  # a spelled number ("second" for "2ème") counts as a match
                continue
            scored.append((covered, overlap + bonus, p.score, s))
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
                    source_text: dict[str, str]) -> Verdict:
    """A yes/no answer cites the sentence that best matches the question (which of yes/no: rag.polarity)."""
    sentences = attribute(question, question, passages, cited)[:1]  # the model's marker only breaks ties
    if not sentences or not relevant_to(sentences[0].text, question):
        return Verdict("", abstained=True, reason="no passage supports the answer")
    return Verdict(f"{claim} [{sentences[0].passage.n}].", to_citations(sentences, source_text))


def verify(raw: str, question: str, passages: list[Passage], source_text: dict[str, str]) -> Verdict:
    claim, cited = parse_markers(raw)
    claim = re.sub(r"^(?:réponse|answer)\s*:\s*", "", claim, flags=re.IGNORECASE).strip()
    if not claim or is_abstention(claim):
        return Verdict("", abstained=True, reason="the model found no answer in the passages")
    if is_yes_no(claim):
        return _yes_no_verdict(claim.rstrip(".!"), question, passages, cited, source_text)
    if not adds_content(claim, question):
        return Verdict("", abstained=True, reason="the answer only repeats the question")
    if not fits_question_type(claim, question):
        return Verdict("", abstained=True, reason=WRONG_KIND)
    sentences = attribute(claim, question, passages, cited)
    if not sentences:
        return Verdict("", abstained=True, reason="no passage supports the answer")
    if not any(relevant_to(s.text, question) for s in sentences):
        return Verdict("", abstained=True, reason="the supporting sentence does not match the question")
    evidence = " ".join(p.text for p in passages if p.n in {s.passage.n for s in sentences})
    missing = ungrounded_terms(claim, evidence, question)
    if missing:
        return Verdict("", abstained=True, reason=f"not in the cited passages: {', '.join(missing[:5])}")
    numbers = sorted({s.passage.n for s in sentences})
    if not _asks_when(question):  # a year stays a year
        claim = source_wording(claim, [s.text for s in sentences], question)
    answer = shorten(claim).rstrip()
    marker = "".join(f"[{n}]" for n in numbers)
    if answer.endswith((".", "!", "?", "…")):
        answer = f"{answer[:-1]} {marker}{answer[-1]}"
    else:
        answer = f"{answer} {marker}"
    return Verdict(answer, to_citations(sentences, source_text))
