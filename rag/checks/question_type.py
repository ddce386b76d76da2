"""What a question asks for (a date, a duration, a quantity, a name, a thing) and whether an answer is of that kind."""
from __future__ import annotations

import re

from rag.text.numbers import only_numbers
from rag.text.textnorm import MONTHS, STOPWORDS, fold, same_word


ASKS_QUANTITY = re.compile(r"\b(?:combien|how (?:many|much|long|far|old)|what (?:percentage|number|amount))\b")
_ASKS_DATE = re.compile(
    r"\b(?:(?:quel|quelle) (?:jour|date|annee|mois)|en quelle annee|a quelle date|"
    r"what (?:year|date|day|month)|which (?:year|date|day|month)|in what year)\b"
)
_ASKS_TIME = re.compile(r"\b(?:quand|depuis quand|a quel moment|when|at what time)\b")
# The first question word says what is asked; a later "quand"/"when" opens a clause ("Qui dirige l'équipe quand…").
_QUESTION_WORD = re.compile(r"\b(?:qui|que|quoi|quel|quelle|quels|quelles|quand|ou|comment|combien|pourquoi|lequel|"
                            r"laquelle|who|whom|whose|what|which|when|where|how|why)\b")


def asks_time(asked: str) -> bool:
    """A "quand"/"when" question, `asked` folded; not a clause of another question."""
    time_word, first = _ASKS_TIME.search(asked), _QUESTION_WORD.search(asked)
    return bool(time_word) and (first is None or time_word.start() <= first.start())


_DAY_NAMES = MONTHS | set(
    "lundi mardi mercredi jeudi vendredi samedi dimanche monday tuesday wednesday thursday friday saturday sunday".split()
)
_CALENDAR_WORDS = _DAY_NAMES | set("hier demain yesterday tomorrow today".split())
QUANTITY_WORDS = set(
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
MEASURE_UNITS = _DURATION_UNITS | set(
    "kilometre kilometres km metre metres centimetre centimetres kilo kilos kilogramme kilogrammes tonne tonnes "
    "litre litres euro euros dollar dollars yuan yuans rouble roubles kilometer kilometers meter meters mile miles "
    "ton tons".split()
)
_COUNTED_NOUNS = set("habitant habitants personne personnes soldat soldats people soldiers troops inhabitants".split())
# Words that name what a number counts or measures: an answer "1 300 kilometres" to "combien de soldats" is wrong.
_UNITS = MEASURE_UNITS | _COUNTED_NOUNS
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
    return bool(units) and not any(same_word(u, w) for u in units for w in counted_words)


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


# "Quel gazoduc…", "quelle est la fonction…", "which pipeline…": the noun the answer must be, after any verb, article
# and word that only ranks or counts it ("quel a été le meilleur résultat", "which other pipeline"). Only nouns that
# can be answered by a bare number ("quelle année", "quel score") accept one.
_RANKING_WORDS = (r"(?:(?:autres?|premiere?s?|derniere?s?|principale?s?|principaux|meilleure?s?|seule?s?|deux|trois|"
                  r"quatre|cinq|other|first|last|main|best|only|two|three)\s+)?")
_ASKS_WHICH = re.compile(
    r"\b(?:quel|quelle|quels|quelles)\s+"
    r"(?:(?:est|sont|etait|etaient|fut|furent|sera|seront|serait|seraient|a ete|ont ete|avait ete)\s+)?"
    r"(?:(?:le|la|les|l)\s+)?" + _RANKING_WORDS + r"(\w+)|"
    r"\bwhich\s+" + _RANKING_WORDS + r"(\w+)|\bwhat\s+(?:is|are|was|were)\s+the\s+" + _RANKING_WORDS + r"(\w+)"
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


def _number_for_a_thing(claim: str, asked: str) -> bool:
    """A bare number answering "quel <noun>" where the noun is not a quantity or a time ("quel gazoduc" -> "2027")."""
    which = _ASKS_WHICH.search(asked)
    noun = which and next(g for g in which.groups() if g)
    return bool(noun) and noun not in _NUMERIC_NOUNS and only_numbers(claim.strip(" ."))


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
    if ASKS_QUANTITY.search(asked):
        return has_number or bool(answer_words & (QUANTITY_WORDS | _TIME_WORDS))
    if _ASKS_DATE.search(asked):
        return has_number or bool(answer_words & _CALENDAR_WORDS)
    if asks_time(asked):
        return has_number or bool(answer_words & _TIME_WORDS)
    return True


def asks_when(question: str) -> bool:
    """A date or time question ("quand", "en quelle année", "when")."""
    asked = fold(question)
    return bool(_ASKS_DATE.search(asked) or asks_time(asked))


WRONG_KIND = "the answer is not the kind asked for (a date, a duration, a quantity, a name)"
