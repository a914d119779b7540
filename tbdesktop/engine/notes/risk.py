"""Risk cues in what clients say: a documented lexicon over sentences, with denial and screening-question rules.

Method (see docs/decisions/0006-local-notes.md):

* Only non-therapist speech is read (a line whose role is None may be the client's). A second-person question
  ("Have you thought about killing yourself?") is never itself a flag, whoever asks it.
* Each segment is split into sentences; each kind has first-person cue patterns ("kill myself", "cut myself",
  "hurt him", "he hits me", "drinking", …). A cue with a negation earlier in its clause ("no thoughts of
  hurting myself", "I would never kill myself") is a denial: severity "denied". A cue whose clause is about
  someone else ("my brother was drinking") is not the client's and is skipped.
* An endorsed cue starts at its pattern's level (passive wishes, alcohol: low; active ideation, current
  behaviour, hard drugs: moderate). Heavy or daily use raises substance use to moderate. A plan, means,
  intent, timeline or attempt ("I have a plan", "I bought pills", "tonight", "I tried to") raises it to high;
  past markers ("I used to", "years ago") without a recent one lower it to low.
* The answer right after a screening question about suicide, self-harm or harming others: "Yes" or
  "Sometimes" endorses it (moderate; high when the question was about a plan, means or intent, or the answer
  names one), "No"/"Never" denies it. A question about a plan inherits the risk topic of the last few lines.
* One flag per (kind, segment), the most severe; flags come in transcript order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tbdesktop.engine.notes.types import RISK_KINDS, RiskFlagResult, TranscriptLine

MAX_QUOTE_CHARS = 200
TOPIC_MEMORY_LINES = 6  # a "Do you have a plan?" refers to the risk talked about within this many lines
_RANK = {"denied": 0, "low": 1, "moderate": 2, "high": 3}
_SCREENED_KINDS = ("suicidal_ideation", "self_harm", "harm_to_others")


def phrases(*alternatives: str) -> re.Pattern[str]:
    """Whole-word, case-blind alternation; a ``'`` in a pattern matches straight or curly apostrophes."""
    body = "|".join(a.replace("'", "['’]") for a in alternatives)
    return re.compile(rf"\b(?:{body})\b", re.IGNORECASE)


_rx = phrases


_PEOPLE = (
    r"(?:wife|husband|partner|boss|son|daughter|kids?|child|children|mother|mom|mum|father|dad|brother|sister|"
    r"boyfriend|girlfriend|neighbou?r|coworker|co-worker|roommate|ex|friend|uncle|aunt|cousin|stepdad|stepmom|"
    r"grandma|grandpa|grandmother|grandfather|parents|teacher)"
)

# fmt: off
# (kind, base severity, pattern) — first-person cues the client says about themself.
_CUES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("suicidal_ideation", "moderate", _rx(
        r"kill(?:ing|ed)? myself", r"end(?:ing)? my (?:own )?life", r"end(?:ing)? it all", r"take my (?:own )?life",
        r"suicidal", r"(?:thoughts?|thinking|thought) (?:about|of) suicide", r"suicide (?:attempt|plan|note)",
        r"commit(?:ting)? suicide", r"(?:want|wanted|wanting) to die", r"(?:don't|do not) want to (?:be alive|live)",
        r"no reason to live", r"not worth living", r"(?:hang|shoot|drown) myself", r"better off dead",
        r"jump(?:ing)? off (?:a|the) (?:bridge|building|roof)",
    )),
    ("suicidal_ideation", "low", _rx(
        r"wish(?:ed)? i (?:was|were) dead", r"wish i could (?:just )?(?:disappear|die|not wake up)",
        r"(?:don't|do not|didn't) want to wake up", r"(?:wouldn't|would not) wake up", r"better off without me",
        r"what's the point of living",
    )),
    ("self_harm", "moderate", _rx(
        r"(?:cut|cuts|cutting) (?:myself|my (?:arms?|wrists?|legs?|thighs?|skin))",
        r"(?:hurt|hurting|harm|harming) myself", r"self[- ]harm(?:ing)?", r"(?:burn|burned|burnt|burning) myself",
        r"(?:hit|hitting|punch|punched|punching) myself", r"scratch(?:ed|ing)? myself",
        r"(?:bang|banged|banging) my head",
    )),
    ("harm_to_others", "moderate", _rx(
        r"(?:hurt|hurting|kill|killing|hit|hitting|punch|punching|strangle|stab|stabbing|shoot|shooting|beat up)"
        rf" (?:him|her|them|someone|somebody|anyone|anybody|people|my {_PEOPLE})",
    )),
    ("abuse_neglect", "moderate", _rx(
        r"(?:hits|hit|beats|beat|kicks|kicked|slaps|slapped|punches|punched|chokes|choked|shoves|shoved|pushes|pushed|"
        r"grabbed|grabs|strangled|burned) me(?! (?:at|in|to)\b)",
        rf"(?:he|she|they|someone|somebody|{_PEOPLE}) touched me",
        r"(?<!substance )(?<!alcohol )(?<!drug )(?<!drugs )abus(?:e|ed|ive|ing)(?! (?:pills|drugs|alcohol)\b)",
        r"molest(?:ed|ing)?", r"raped", r"(?:sexually )?assaulted me", r"(?:was|were|been|being) neglected",
        r"neglectful",
        r"neglect(?:ed|s|ing)? (?:me|us|the kids|my (?:kids|children|son|daughter))",
        r"no food (?:at home|in the house)", r"(?:nothing|not enough) to eat",
        r"threaten(?:s|ed|ing)? (?:me|to (?:hurt|kill|hit|take the kids))",
        r"left (?:me|us|the kids) alone (?:for days|all night|overnight)", r"(?:afraid|scared) to go home",
        r"(?:don't|do not) feel safe at home", r"not safe at home", r"locks? me (?:in|out)",
    )),
    ("substance_use", "low", _rx(
        r"drink(?:s|ing)?(?!\s+(?:a lot of |lots of |more |some |enough |of |a cup of |a glass of )?"
        r"(?:coffee|tea|water|juice|soda|milk|pop|energy|enough))", r"drank", r"drunk",
        r"alcohol", r"beers?", r"wine", r"vodka", r"whiske?y", r"tequila", r"liquor", r"booze", r"hungover",
        r"hangover", r"weed", r"marijuana", r"cannabis", r"stoned", r"smok(?:e|ed|ing) (?:pot|a joint)",
        r"(?:get|gets|got|getting) high", r"high on",
        r"(?:i|we)(?:'m| am| was| were|'ve been| have been| been) high(?! school)",
    )),
    ("substance_use", "moderate", _rx(
        r"cocaine", r"heroin", r"meth", r"methamphetamine", r"fentanyl", r"opioids?", r"oxy(?:contin|codone)?",
        r"percocet", r"vicodin", r"using (?:again|drugs|heroin|meth|cocaine|pills)",
        r"(?:started|been|keep|kept) using(?=\W*$|[.,!?]| again| every| daily| a lot| more)",
        r"relaps(?:e|ed|ing)", r"(?:popping|popped|abusing|abused) pills", r"extra (?:pills|xanax|klonopin|oxy\w*)",
        r"addict(?:ed|ion)", r"withdrawals?",
    )),
)

_PLAN = r"(?:a|my|the) plan", r"plann(?:ed|ing) (?:it|how|to (?:do|kill|end|hurt))", r"figured out how"
_INTENT = r"going to", r"gonna", r"i'll", r"i will", r"intend(?:ed)? to", r"ready to"
_TIMELINE = r"tonight", r"tomorrow", r"this weekend", r"soon"
_ATTEMPT = r"tried to", r"attempt(?:ed|s)?", r"overdos(?:e|ed|ing)"
_MEANS = (
    r"pills", r"gun", r"firearm", r"rope", r"bridge", r"stockpil\w*",
    r"(?:saved|saving|bought|buying|hoarding|collecting) (?:up )?(?:my |some |the )?(?:pills|meds|medications?)",
)
_PREPARING = r"(?:goodbye|suicide) (?:note|letter)", r"wrote (?:a|my) (?:note|letter|will)", r"giv(?:e|ing|en) away my"
_MEDICAL = r"stitches", r"hospital", r"emergency room", r"\ber\b", r"ambulance"
_WEAPONS = r"gun", r"knife", r"weapon", r"bat"

# Raise to high: ``_HIGH_SEGMENT`` anywhere in the segment, ``_HIGH_SENTENCE`` only in the cue's own sentence.
_HIGH_SEGMENT: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(*_PLAN, *_ATTEMPT, *_MEANS, *_PREPARING),
    "self_harm": _rx(*_PLAN, *_ATTEMPT, *_MEDICAL),
    "harm_to_others": _rx(*_PLAN, *_WEAPONS, r"know where (?:he|she|they) lives?"),
    "abuse_neglect": _rx(r"threaten\w* to kill", r"chok(?:e|ed|es|ing)", r"strangl\w*", *_WEAPONS, r"kill(?:ing)? me"),
    "substance_use": _rx(r"overdos(?:e|ed|ing)", r"od'd", r"(?:drove|driving|drive) (?:home )?(?:drunk|high)", r"dui"),
}
_HIGH_SENTENCE: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(*_INTENT, *_TIMELINE),
    "self_harm": _rx(*_INTENT, r"tonight", r"tomorrow"),
    "harm_to_others": _rx(*_INTENT, *_TIMELINE),
    "abuse_neglect": _rx(r"tonight", r"afraid for my life"),
    "substance_use": _rx(r"drunk driving"),
}
_HEAVY_USE = _rx(
    r"every (?:night|day|morning|evening|weekend)", r"daily", r"each night", r"most (?:nights|days)", r"a lot",
    r"too much", r"heavily", r"heavy", r"black(?:ed)? ?out", r"(?:a|the|whole) bottle", r"bottles", r"can't stop",
    r"cannot stop", r"need (?:a drink|to drink|it)", r"in the morning",
    r"to (?:cope|get through|fall asleep|numb|forget)", r"shakes", r"dependent", r"addict\w*",
    r"more than i (?:should|meant)",
)
_DRINK_COUNT = re.compile(
    r"\b(\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s+or\s+(\d+|\w+))?\s+"
    r"(?:drinks|beers|glasses|shots|cans|pints)\b",
    re.IGNORECASE,
)
_NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_HEAVY_DRINK_COUNT = 4
_PAST = _rx(
    r"used to", r"years ago", r"as a (?:kid|child|teen(?:ager)?)",
    r"when i was (?:a |younger|young|little|in|\d|\w+teen|twelve|eleven|ten|nine|eight|seven|six|five)",
    r"in (?:high school|college|my twenties)", r"back then", r"in the past", r"a long time ago",
    r"(?:quit|stopped) (?:drinking|using|cutting|smoking)", r"no longer",
)
# fmt: on
_RECENT = _rx(
    r"last night", r"yesterday", r"this week", r"again", r"recently", r"this morning", r"lately", r"right now"
)

_NEGATOR = _rx(
    r"no", r"not", r"never", r"none", r"nor", r"without", r"deny", r"denies", r"denied", r"\w+n't", r"cannot"
)
_NOT_A_NEGATION = _rx(
    r"(?:can't|couldn't|cannot) (?:stop|help|sleep)",
    r"(?:don't|didn't) (?:know|care)",
    r"not sure",
    r"no matter",
    r"not only",
    r"no one",
    r"nobody",
    r"no reason to live",
)
_CLAUSE_BREAK = re.compile(r"[,;:—–]|\b(?:but|and|because|although|though|however|yet|except|so)\b", re.IGNORECASE)
_SUBJECT = re.compile(
    rf"\b(?:(i|i'm|i've|i'd|i'll|we|me|myself)|(he|she|they|he's|she's|they're|(?:my|his|her|their) {_PEOPLE}))\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.DOTALL)
_SECOND_PERSON = _rx(r"you", r"your", r"yourself")
_ASKING_YOU = re.compile(
    r"^\W*(?:do|does|did|have|has|are|were|would|could|can|will|any)\b(?:\s+\w+)?\s+(?:you|your|thoughts?)\b",
    re.IGNORECASE,
)

_SCREEN_TOPIC: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(
        r"kill(?:ing)? yourself",
        r"end(?:ing)? your (?:own )?life",
        r"suicid\w*",
        r"want(?:ed)? to die",
        r"better off dead",
        r"(?:be|being) alive",
        r"take your (?:own )?life",
    ),
    "self_harm": _rx(r"(?:hurt|hurting|harm|harming|cut|cutting|burn|burning) yourself", r"self[- ]harm\w*"),
    "harm_to_others": _rx(
        rf"(?:hurt|hurting|harm|harming|kill|killing) (?:anyone|someone|somebody|anybody|others|other people|him|her|"
        rf"them|your {_PEOPLE})",
    ),
}
_SCREEN_PLAN = _rx(
    r"plan",
    r"how would you",
    r"access to",
    r"means",
    r"intend\w*",
    r"intention",
    r"act on",
    r"tried",
    r"attempt\w*",
    r"pills",
    r"guns?",
    r"firearms?",
    r"weapons?",
)
_AFFIRM = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|sometimes|kind of|sort of|a little|occasionally|maybe|once or twice|a few times|"
    r"i (?:have|do|did)(?=\W*$|[,.!]| had| thought))\b",
    re.IGNORECASE,
)
_DENY = re.compile(
    r"^\W*(?:no(?! one| matter)|nope|nah|never|not really|not at all|i haven['’]t|i have not|"
    r"i don['’]t(?! know)|i do not|i didn['’]t|i wouldn['’]t)\b",
    re.IGNORECASE,
)


def detect_risks(lines: Sequence[TranscriptLine]) -> tuple[RiskFlagResult, ...]:
    """Risk flags from the client's words, one per (kind, segment), in transcript order."""
    flags: list[RiskFlagResult] = []
    pending: tuple[str, bool] | None = None  # (kind, asks about plan/means) of the question just asked
    topic: tuple[str, int] | None = None  # (kind, position) of the last risk talked about
    for pos, line in enumerate(lines):
        sentences = split_sentences(line.text)
        found: dict[str, RiskFlagResult] = {}
        if line.role != "therapist":
            for kind, severity, quote in _cue_flags(sentences, line.text):
                _keep_worst(found, RiskFlagResult(kind, severity, quote, line.idx))
            if pending is not None and pending[0] not in found:
                answer = _answer_flag(sentences, line.text, *pending)
                if answer is not None:
                    _keep_worst(found, RiskFlagResult(pending[0], answer[0], answer[1], line.idx))
        for kind in RISK_KINDS:
            if kind in found:
                flags.append(found[kind])
                if kind in _SCREENED_KINDS:
                    topic = (kind, pos)
        pending = _screening_question(sentences, line.role, topic, pos)
        if pending is not None:
            topic = (pending[0], pos)
    return tuple(flags)


def split_sentences(text: str) -> list[str]:
    """A text's sentences, verbatim (split after . ! or ? and a space)."""
    return [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def _asks_someone(sentence: str) -> bool:
    """A question put to the listener ("Have you thought about hurting yourself?")."""
    asked = sentence.rstrip().endswith("?") or _ASKING_YOU.match(sentence) is not None
    return asked and _SECOND_PERSON.search(sentence) is not None


def _cue_flags(sentences: Sequence[str], segment: str) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for sentence in sentences:
        if _asks_someone(sentence):
            continue  # asking someone else about it, not saying it
        for kind, base, pattern in _CUES:
            for match in pattern.finditer(sentence):
                prefix = sentence[: match.start()]
                if kind != "abuse_neglect" and _about_someone_else(prefix):
                    continue
                if _negated(prefix):
                    severity = "denied"
                else:
                    severity = _severity(kind, base, sentence, segment)
                found.append((kind, severity, _quote(sentence, match.start(), match.end())))
    return found


def _severity(kind: str, base: str, sentence: str, segment: str) -> str:
    if _PAST.search(sentence) and not _RECENT.search(sentence):
        return "low"
    if _endorsed(_HIGH_SENTENCE[kind], sentence) or _endorsed(_HIGH_SEGMENT[kind], segment):
        return "high"
    if kind == "substance_use" and (_endorsed(_HEAVY_USE, sentence) or _many_drinks(sentence)):
        return "moderate"
    return base


def _endorsed(pattern: re.Pattern[str], text: str) -> bool:
    """True when the pattern occurs somewhere without a negation before it in its clause."""
    for sentence in split_sentences(text):
        for match in pattern.finditer(sentence):
            if not _negated(sentence[: match.start()]) and not _asks_someone(sentence):
                return True
    return False


def _many_drinks(sentence: str) -> bool:
    for match in _DRINK_COUNT.finditer(sentence):
        counts = [_NUMBERS.get(g.lower(), int(g) if g.isdigit() else 0) for g in match.groups() if g]
        if max(counts) >= _HEAVY_DRINK_COUNT:
            return True
    return False


def _clause(prefix: str) -> str:
    """The clause a cue sits in, up to the cue; a clause of one word ("never, ever") takes in the one before."""
    parts = _CLAUSE_BREAK.split(prefix)
    clause = parts[-1]
    if len(clause.split()) < 2 and len(parts) > 1:
        clause = parts[-2] + " " + clause
    return clause


def _negated(prefix: str) -> bool:
    clause = _NOT_A_NEGATION.sub(" ", _clause(prefix))
    return _NEGATOR.search(clause) is not None


def _about_someone_else(prefix: str) -> bool:
    """The clause's last subject is another person ("my brother was drinking")."""
    subjects = list(_SUBJECT.finditer(_clause(prefix)))
    return bool(subjects) and subjects[-1].group(2) is not None


def _quote(sentence: str, start: int, end: int) -> str:
    """The sentence verbatim, or a window of whole words around the cue when it is over the limit."""
    if len(sentence) <= MAX_QUOTE_CHARS:
        return sentence
    left = max(0, min(start - (MAX_QUOTE_CHARS - (end - start)) // 2, len(sentence) - MAX_QUOTE_CHARS))
    window = sentence[left : left + MAX_QUOTE_CHARS]
    if left > 0 and " " in window:
        window = window[window.index(" ") + 1 :]
    if left + MAX_QUOTE_CHARS < len(sentence) and " " in window:
        window = window[: window.rindex(" ")]
    return window.strip()


def _keep_worst(found: dict[str, RiskFlagResult], flag: RiskFlagResult) -> None:
    current = found.get(flag.kind)
    if current is None or _RANK[flag.severity] > _RANK[current.severity]:
        found[flag.kind] = flag


def _screening_question(
    sentences: Sequence[str], role: str | None, topic: tuple[str, int] | None, pos: int
) -> tuple[str, bool] | None:
    """(kind, asks about a plan) when the line ends on a screening question, else None."""
    if role not in ("therapist", None):
        return None
    # a therapist's "And hurting anyone else?" is a question; an unlabelled speaker's must be put to "you"
    questions = [s for s in sentences if _asks_someone(s) or (role == "therapist" and s.endswith("?"))]
    if not questions:
        return None
    last = questions[-1]
    asks_plan = _SCREEN_PLAN.search(last) is not None
    for kind, pattern in _SCREEN_TOPIC.items():
        if pattern.search(last):
            return kind, asks_plan
    if asks_plan and topic is not None and pos - topic[1] <= TOPIC_MEMORY_LINES:
        return topic[0], True
    return None


def _answer_flag(sentences: Sequence[str], segment: str, kind: str, asks_plan: bool) -> tuple[str, str] | None:
    """(severity, quote) for a reply to a screening question, or None when the reply neither endorses nor denies."""
    if not sentences:
        return None
    first = sentences[0]
    named = next((s for s in sentences if _endorsed(_HIGH_SEGMENT[kind], s)), None)
    if _DENY.match(first):
        return "denied", _quote(first, 0, 0)
    if _AFFIRM.match(first):
        quote = _span(segment, first, named or first)
        if _PAST.search(segment) and not _RECENT.search(segment):
            return "low", quote
        return ("high" if asks_plan or named else "moderate"), quote
    return None if named is None else ("high", _quote(named, 0, 0))


def _span(segment: str, first: str, last: str) -> str:
    """The segment's words from sentence ``first`` through sentence ``last``, verbatim (one sentence if too long)."""
    start = segment.find(first)
    end = segment.find(last, start) + len(last)
    span = segment[start:end]
    return span if len(span) <= MAX_QUOTE_CHARS else _quote(last, 0, 0)
