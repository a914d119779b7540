"""Is a written statement supported by the transcript lines it cites? Checked in code, whatever wrote it.

A statement is supported when all of these hold against the cited lines (case, punctuation and quote styles
ignored; words compared by a crude stem, so "sleeping" meets "sleep" and "drinks" meets "drinking"):

- **content overlap**: at least ``MIN_OVERLAP`` of the statement's content words (not stop words, not the
  note's own framing such as "client", "reported", "discussed") occur in the cited lines, and at least one does;
- **numbers** (digits or number words) all occur in the cited lines;
- **names and dates**: capitalised words inside a sentence, weekdays and months all occur in the cited lines;
- **negation**: a statement that negates ("denies", "not", "no", "never", "without") cites a line that negates,
  and a statement that does not negate does not rest only on lines that negate the words it shares with them.

This is a floor against invention, not proof of a faithful paraphrase; the clinician still reads the note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_OVERLAP = 0.6

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was were be been being am do does
    did doing have has had having it its this that these those there here he she they them his her their hers
    theirs him i me my mine we us our you your yours who whom whose which what when where why how all any both
    each few more most other some such only own same than too very can could will would shall should may might
    must just also about into over under again further once up down out off through during before after above
    below between because while until s t now well really quite rather much many lot lots get got gets getting
    go goes going went gone thing things like one ones way ways time times day days""".split()
)
# The note's own framing: words a summary adds around what was said, which the transcript need not contain.
_FRAMING = frozenset(
    """client clients therapist therapists patient session sessions counsellor counselor report reports reported
    reporting state states stated stating describe describes described describing discuss discusses discussed
    discussing mention mentions mentioned mentioning express expresses expressed expressing say says said
    share shares shared sharing note notes noted explain explains explained explore explores explored
    exploring indicate indicates indicated acknowledge acknowledges acknowledged agree agrees agreed agreement
    identify identifies identified talk talks talked talking feel feels felt feeling feelings current
    currently ongoing recent recently also further additionally overall today topic topics regarding
    related concerning around toward towards ideation passive active symptom symptoms concern concerns
    issue issues presenting noted week weeks""".split()
)
# Clinical words a note uses for what people say in other words: a statement word is found when the lines hold
# any of its everyday forms (compared by stem, like every other word).
_CONCEPTS: dict[str, tuple[str, ...]] = {
    "suicidal": (
        "suicide",
        "kill",
        "die",
        "dying",
        "dead",
        "death",
        "end",
        "life",
        "live",
        "living",
        "here",
        "around",
        "wake",
        "alive",
        "point",
        "better",
    ),
    "suicide": ("suicidal", "kill", "die", "end", "life", "here", "alive"),
    "harming": ("hurt", "hurting", "cut", "harm"),
    "self-harm": ("cut", "cutting", "burn", "hurt", "hurting", "harm"),
    "harm": ("hurt", "hurting", "cut", "hit"),
    "sleep": ("slept", "sleeping", "asleep", "insomnia", "awake", "night", "nights", "bed", "tired"),
    "insomnia": ("sleep", "slept", "asleep", "awake"),
    "anxiety": ("anxious", "worried", "worry", "worrying", "nervous", "panic", "scared", "afraid", "stress"),
    "anxious": ("anxiety", "worried", "worry", "nervous", "panic", "scared"),
    "depressed": ("depression", "down", "sad", "low", "hopeless", "empty"),
    "depression": ("depressed", "down", "sad", "low", "hopeless"),
    "mood": ("feel", "feeling", "down", "sad", "happy", "low", "depressed", "anxious", "angry"),
    "low": ("down", "sad", "depressed"),
    "alcohol": ("drink", "drinks", "drinking", "drank", "wine", "beer", "beers", "vodka", "whiskey", "drunk"),
    "drinking": ("drink", "drank", "drunk", "wine", "beer", "beers", "alcohol"),
    "substance": ("drink", "drinking", "drugs", "weed", "alcohol", "pills", "cocaine", "using"),
    "ending": ("end", "kill", "die", "here", "alive", "suicide"),
    "kill": ("killing", "suicide", "die"),
    "hurt": ("hurting", "harm", "cut", "hit"),
    "stress": ("stressful", "stressed", "pressure", "overwhelmed"),
    "stressful": ("stress", "stressed", "pressure", "overwhelmed"),
    "employment": ("job", "work", "boss", "fired"),
    "job": ("work", "boss", "fired", "employment"),
    "work": ("job", "boss", "office", "shift"),
    "relationship": ("partner", "husband", "wife", "boyfriend", "girlfriend", "marriage"),
    "homework": ("practice", "practise", "try", "write", "week", "exercise"),
    "agreed": ("okay", "ok", "yes", "sure", "will", "can"),
    "safety": ("safe", "crisis", "call", "988", "emergency"),
    "plan": ("planned", "planning", "plans", "will", "going"),
    "planned": ("plan", "will", "going", "try"),
    "poor": ("bad", "badly", "terrible", "awful", "not"),
    "weekly": ("week", "every"),
}
# Words a note must never carry without the lines saying so in some form, however much else overlaps.
_SENSITIVE = frozenset(
    """suicide suicidal kill killing killed die dying dead death overdose overdosed self-harm harm harming hurt
    hurting cut cutting abuse abused abusive hit hitting beat beating weapon gun knife drug drugs alcohol
    drinking drunk relapse relapsed hospital police ending pregnant diagnosis diagnosed medication""".split()
)
_NEGATION_WORDS = frozenset(
    "no not never none nothing nobody neither nor without cannot denies deny denied denying negative".split()
)
_NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.pop("one")  # "no one", "one of": too often not a count
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "hundred": "100", "twice": "2"})
_DATE_WORDS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december""".split()
)
# Capitalised words that are not names: sentence openers and the note's own vocabulary.
_NOT_NAMES = frozenset({"i", "client", "therapist", "partner", "participant", "the", "cbt", "dbt", "ok", "okay"})


@dataclass(frozen=True)
class Support:
    ok: bool
    reason: str = ""  # why not, in a few words (no transcript text)
    overlap: float = 0.0


def check_support(statement: str, cited: Sequence[str]) -> Support:
    """Whether ``statement`` is supported by the ``cited`` transcript texts (see the module's rules)."""
    words = _tokens(statement)
    if not words or not cited:
        return Support(False, "nothing to compare")
    cited_tokens = [_tokens(text) for text in cited]
    source = [w for tokens in cited_tokens for w in tokens]
    source_stems = {_stem(w) for w in source}
    content = [w for w in dict.fromkeys(words) if w not in _STOP and w not in _FRAMING and w not in _NEGATION_WORDS]
    numbers = {_number(w) for w in words if _number(w) is not None}
    source_numbers = {_number(w) for w in source if _number(w) is not None}
    missing_numbers = numbers - source_numbers
    if missing_numbers:
        return Support(False, "a number the lines do not give")
    for name in _names(statement):
        if _stem(name) not in source_stems:
            return Support(False, "a name or date the lines do not give")
    for word in words:
        if word in _DATE_WORDS and word not in source:
            return Support(False, "a name or date the lines do not give")
    content_words = [w for w in content if _number(w) is None]
    if not content_words:
        return Support(False, "no content words")
    found = [w for w in content_words if _found(w, source_stems)]
    if any(w in _SENSITIVE and w not in found for w in content_words):
        return Support(False, "a risk or medical word the lines do not support")
    overlap = len(found) / len(content_words)
    if not found or overlap < MIN_OVERLAP:
        return Support(False, "too little of it is in the cited lines", overlap)
    shared = {_stem(w) for w in found} | {_stem(c) for w in found for c in _CONCEPTS.get(w, ())}
    states = [_negates(tokens) for tokens in cited_tokens if shared & {_stem(w) for w in tokens}]
    if _negates(words):
        if not any(states):
            return Support(False, "a negation the lines do not give", overlap)
    elif states and all(states):
        return Support(False, "the lines negate what it states", overlap)
    return Support(True, "", overlap)


def _found(word: str, source_stems: set[str]) -> bool:
    if _stem(word) in source_stems:
        return True
    return any(_stem(w) in source_stems for w in _CONCEPTS.get(word, ()))


def supported(statement: str, cited: Iterable[str]) -> bool:
    return check_support(statement, list(cited)).ok


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"\b(\w+)n't\b", r"\1 not", text)  # "don't" → "do not", "can't" → "ca not"
    return _WORD.findall(text)


def _stem(word: str) -> str:
    word = word.split("'", 1)[0]
    for suffix in ("ingly", "edly", "ings", "ing", "ied", "ies", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:  # "stopp(ed)" → "stop"
        word = word[:-1]
    return word[:6]


def _number(word: str) -> str | None:
    if word.isdigit():
        return str(int(word))
    return _NUMBER_WORDS.get(word)


def _negates(tokens: Sequence[str]) -> bool:
    return any(w in _NEGATION_WORDS for w in tokens)


def _names(statement: str) -> list[str]:
    """Capitalised words that do not open a sentence (names, places), lower-cased."""
    names = []
    for sentence in re.split(r"(?<=[.!?:;])\s+|[\"“”(]", statement):
        for word in re.findall(r"[A-Za-z][A-Za-z'’-]*", sentence)[1:]:
            low = word.lower().replace("’", "'").split("'", 1)[0]
            if word[0].isupper() and low not in _NOT_NAMES and low not in _STOP and not word.isupper():
                names.append(low)
    return names
