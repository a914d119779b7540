"""Risk cues in what clients say: a documented lexicon over sentences, with denial and screening-question rules.

Method (see docs/decisions/0006-local-notes.md):

* Only non-therapist speech is read (a line whose role is None may be the client's). A second-person question
  ("Have you thought about killing yourself?") is never itself a flag, whoever asks it.
* Each segment is split into sentences; each kind has first-person cue patterns ("kill myself", "cut myself",
  "hurt him", "he hits me", "drinking", …). Suicidal ideation is also heard as absence ("better off without
  me", "if I was not here", "go to sleep and not wake up", "what's the point of going on"); these cues are
  short so words a recogniser garbled around them do not hide them. A cue with a negation earlier in its clause
  ("no thoughts of hurting myself", "I would never kill myself") is a denial: severity "denied". A cue whose
  clause is about someone else ("my brother was drinking") is not the client's, unless the cue itself says
  "me"/"I". A cue inside an idiom ("this traffic is killing me", "dying to see it") is not a flag.
* An endorsed cue starts at its pattern's level (passive wishes: low; active ideation, current behaviour, hard
  drugs: moderate). Drinking and cannabis are flagged only when heavy or frequent (moderate), or as
  intoxication (drunk, blacked out: low); light use is not a flag. A plan, means, intent, timeline or attempt
  ("I have a plan", "I bought pills", "tonight", "I tried to") raises it to high; past markers ("I used to",
  "years ago") without a recent one lower it to low.
* The answer right after a screening question: "Yes", but also "sometimes", "kind of", "more than I'd like",
  "I have thought about it" (as heard: "I am thought about it") endorse it (moderate; high when the question
  was about a plan, means or intent, or the answer names one); "No"/"Never" denies it. Questions are found by
  their "?" or, when the recogniser dropped it, by "do you"/"have you"; a question about a plan, or a follow-up
  ("Do you still feel that way?"), inherits the risk topic of the last few lines; "Do you feel safe at home?"
  answered "no" is abuse. A plan denied after endorsed ideation qualifies that flag ("denies a plan") rather
  than adding a denial.
* Real talk is not risk: a harm-to-others cue whose agent is a thing ("it's probably hurting my kid", "hurting
  him with the smoke"), an abuse cue in a hypothetical about anyone ("if somebody wants to beat me up") or in a
  dare the client quotes, a shoot that is a photo session. A screening question names the topic about "you"
  (not "when your husband's not around?", unless it points back at a lead-in about others: "Has that been true
  for you?"); a statement without "?" counts only in a short turn, not in an information talk; a follow-up
  about drinking does not inherit the risk topic.
* ``detail`` carries a short qualifier the clinician reads first: "passive ideation; denies a plan", "plan
  disclosed", "attempt disclosed", "past attempt", "heavy or frequent use", "endorsed when asked".
* One flag per (kind, segment), the most severe; flags come in transcript order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tbdesktop.engine.notes import risk_lexicon as lex
from tbdesktop.engine.notes.risk_lexicon import phrases
from tbdesktop.engine.notes.types import RISK_KINDS, RiskFlagResult, TranscriptLine

MAX_QUOTE_CHARS = 200
TOPIC_MEMORY_LINES = 6  # a "Do you have a plan?" refers to the risk talked about within this many lines
# a therapist's statement heard as a question without its "?" is short, in a short turn (not an information talk)
SHORT_TURN_SENTENCES, SHORT_QUESTION_WORDS = 2, 14
_RANK = {"denied": 0, "light": 0, "low": 1, "moderate": 2, "high": 3}
_SCREENED_KINDS = ("suicidal_ideation", "self_harm", "harm_to_others")

__all__ = ["MAX_QUOTE_CHARS", "TOPIC_MEMORY_LINES", "detect_risks", "phrases", "split_sentences"]


def detect_risks(lines: Sequence[TranscriptLine]) -> tuple[RiskFlagResult, ...]:
    """Risk flags from the client's words, one per (kind, segment), in transcript order."""
    flags: list[RiskFlagResult] = []
    pending: list[_Question] = []  # what the screening question just asked names (one entry per kind)
    topic: tuple[str, int] | None = None  # (kind, position) of the last risk talked about
    for pos, line in enumerate(lines):
        sentences = split_sentences(line.text)
        found: dict[str, RiskFlagResult] = {}
        if line.role != "therapist":
            for kind, severity, quote, detail in _cue_flags(sentences, line.text):
                _keep_worst(found, RiskFlagResult(kind, severity, quote, line.idx, detail=detail))
            for question in pending:
                answer = None if question.kind in found else _answer_flag(sentences, line.text, question)
                if answer is None:
                    continue
                severity, quote, detail = answer
                earlier = _last_raised(flags, question.kind, pos, lines)
                if severity == "denied" and question.asks_plan and earlier is not None:
                    # "Do you have a plan?" — "No": the ideation stands, now known to come without a plan
                    flags[earlier] = _with_detail(flags[earlier], "denies a plan")
                else:
                    _keep_worst(found, RiskFlagResult(question.kind, severity, quote, line.idx, detail=detail))
            if "suicidal_ideation" in found and _endorsed(lex.PLAN_DENIED, line.text):
                found["suicidal_ideation"] = _with_detail(found["suicidal_ideation"], "denies a plan")
        for kind in RISK_KINDS:
            if kind in found:
                flags.append(found[kind])
                if kind in _SCREENED_KINDS:
                    topic = (kind, pos)
        if line.role != "therapist" and pending and not found and not sentences:
            continue  # an empty segment keeps the question open
        pending = _screening_question(sentences, line.role, topic, pos)
        for question in pending:
            if question.kind in _SCREENED_KINDS:
                topic = (question.kind, pos)
    return tuple(flags)


def split_sentences(text: str) -> list[str]:
    """A text's sentences, verbatim (split after . ! or ? and a space)."""
    return [m.group(0).strip() for m in lex.SENTENCE.finditer(text) if m.group(0).strip()]


def _asks_someone(sentence: str) -> bool:
    """A question put to the listener ("Have you thought about hurting yourself?")."""
    asked = sentence.rstrip().endswith("?") or lex.ASKING_YOU.match(sentence) is not None
    return asked and lex.SECOND_PERSON.search(sentence) is not None


def _cue_flags(sentences: Sequence[str], segment: str) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for sentence in sentences:
        if _asks_someone(sentence):
            continue  # asking someone else about it, not saying it
        idioms = [m.span() for m in lex.FIGURATIVE.finditer(sentence)]
        for kind, base, pattern in lex.CUES:
            for match in pattern.finditer(sentence):
                if any(a < match.end() and match.start() < b for a, b in idioms):
                    continue
                prefix = sentence[: match.start()]
                # "better off without me" is about the speaker, whoever the clause's subject is
                own = lex.FIRST_PERSON.search(match.group(0)) is not None
                if kind != "abuse_neglect" and not own and _about_someone_else(prefix):
                    continue
                if kind == "harm_to_others" and _harm_by_a_thing(prefix, sentence[match.end() :]):
                    continue
                if kind == "abuse_neglect" and _not_a_report(prefix):
                    continue
                if _negated(prefix):
                    severity, detail = "denied", ""
                else:
                    severity, detail = _severity(kind, base, sentence, segment)
                if severity == "light":
                    continue  # light or occasional use is not a flag
                found.append((kind, severity, _quote(sentence, match.start(), match.end()), detail))
        for start, end in _misheard_suicidal(sentence):
            prefix = sentence[:start]
            if _about_someone_else(prefix) or any(a < end and start < b for a, b in idioms):
                continue
            if _negated(prefix):
                found.append(("suicidal_ideation", "denied", _quote(sentence, start, end), ""))
            else:
                severity, detail = _severity("suicidal_ideation", "moderate", sentence, segment)
                detail = "; ".join(d for d in (detail, "'suicidal' unclear in the transcript") if d)
                found.append(("suicidal_ideation", severity, _quote(sentence, start, end), detail))
    return found


def _misheard_suicidal(sentence: str) -> list[tuple[int, int]]:
    """Spans where "feeling suicidal" was heard as something that sounds like it ("feeling so sadle")."""
    spans = []
    for match in lex.FEELING_WORD.finditer(sentence):
        words = match.group(1).split()
        if words[0].lower() in lex.NOT_SUICIDAL or "suicidal" in match.group(1).lower():
            continue
        for n in (1, 2):
            if len(words) >= n and _consonants(" ".join(words[:n])) == "stl":
                spans.append((match.start(1), match.start(1) + len(" ".join(words[:n]))))
                break
    return spans


def _consonants(words: str) -> str:
    """A rough sound key: the consonants as heard, repeats merged ("suicidal", "so sadle", "sue sidal": "stl")."""
    key = re.sub(r"[^a-z]", "", words.lower())
    key = re.sub(r"c(?=[iey])", "s", key).replace("c", "k").replace("z", "s").replace("d", "t")
    key = re.sub(r"[aeiouyhw]", "", key)
    return re.sub(r"(.)\1+", r"\1", key)


def _severity(kind: str, base: str, sentence: str, segment: str) -> tuple[str, str]:
    """(severity, clinician-facing qualifier) of an endorsed cue."""
    passive = kind == "suicidal_ideation" and base == "low"
    if lex.PAST.search(sentence) and not lex.RECENT.search(sentence):
        attempt = kind in _SCREENED_KINDS and _endorsed(lex.ATTEMPT_WORDS, sentence)
        past = "past attempt" if attempt else "in the past"
        return ("low", past) if base != "light" else ("light", "")
    if _endorsed(lex.HIGH_SENTENCE[kind], sentence) or _endorsed(lex.HIGH_SEGMENT[kind], _plain(segment)):
        return "high", _high_detail(kind, sentence, segment)
    if kind == "substance_use" and (_endorsed(lex.HEAVY_USE, sentence) or _many_drinks(sentence)):
        return "moderate", "heavy or frequent use"
    return base, "passive ideation" if passive else ""


def _high_detail(kind: str, sentence: str, segment: str) -> str:
    plain = _plain(segment)
    if kind in _SCREENED_KINDS:
        if _endorsed(lex.ATTEMPT_WORDS, plain):
            return "attempt disclosed"
        if _endorsed(lex.PLAN_WORDS, plain):
            return "plan disclosed"
        if kind == "suicidal_ideation" and _endorsed(lex.MEANS_SPECIFIC, plain):
            return "means named"
        if kind == "harm_to_others" and _endorsed(lex.WEAPON_WORDS, plain):
            return "weapon named"
        return "intent or timeline"
    return ""


def _plain(text: str) -> str:
    """Text without plan words that are not about risk ("safety plan")."""
    return lex.NON_RISK_PLAN.sub(" ", text)


def _with_detail(flag: RiskFlagResult, extra: str) -> RiskFlagResult:
    if extra in flag.detail:
        return flag
    return replace(flag, detail=f"{flag.detail}; {extra}" if flag.detail else extra)


def _last_raised(flags: Sequence[RiskFlagResult], kind: str, pos: int, lines: Sequence[TranscriptLine]) -> int | None:
    """Index in ``flags`` of the latest flag of ``kind`` above "denied" within the topic memory, if any."""
    recent = {line.idx for line in lines[max(0, pos - TOPIC_MEMORY_LINES) : pos]}
    for i in range(len(flags) - 1, -1, -1):
        if flags[i].kind == kind and flags[i].severity != "denied" and flags[i].segment_idx in recent:
            return i
    return None


def _endorsed(pattern: re.Pattern[str], text: str) -> bool:
    """True when the pattern occurs somewhere without a negation before it in its clause."""
    for sentence in split_sentences(text):
        for match in pattern.finditer(sentence):
            if not _negated(sentence[: match.start()]) and not _asks_someone(sentence):
                return True
    return False


def _many_drinks(sentence: str) -> bool:
    for match in lex.DRINK_COUNT.finditer(sentence):
        counts = [lex.NUMBERS.get(g.lower(), int(g) if g.isdigit() else 0) for g in match.groups() if g]
        if max(counts) >= lex.HEAVY_DRINK_COUNT:
            return True
    return False


def _clause(prefix: str) -> str:
    """The clause a cue sits in, up to the cue; a clause of one word ("never, ever") takes in the one before."""
    parts = lex.CLAUSE_BREAK.split(prefix)
    clause = parts[-1]
    if len(clause.split()) < 2 and len(parts) > 1:
        clause = parts[-2] + " " + clause
    return clause


def _negated(prefix: str) -> bool:
    clause = lex.NOT_A_NEGATION.sub(" ", _clause(prefix))
    return lex.NEGATOR.search(clause) is not None


def _about_someone_else(prefix: str) -> bool:
    """The clause's last subject is another person ("my brother was drinking")."""
    subjects = list(lex.SUBJECT.finditer(_clause(prefix)))
    return bool(subjects) and subjects[-1].group(1) is None


def _harm_by_a_thing(prefix: str, rest: str) -> bool:
    """The harm comes from a thing, not the client's act ("it's hurting my kid", "hurting him with the smoke")."""
    agents = list(lex.AGENT.finditer(prefix))
    return (bool(agents) and agents[-1].group(1) is None) or lex.BY_A_THING.match(rest) is not None


def _not_a_report(prefix: str) -> bool:
    """An abuse cue in a hypothetical about anyone ("if somebody wants to beat me up") or in a dare the client
    quotes ('I say, "Okay, then hit me"'): nobody is said to have done it."""
    if lex.HYPOTHETICAL.search(_clause(prefix)):
        return True
    quoted = re.split(r"[\"“”]", prefix)
    return len(quoted) % 2 == 0 and lex.SUBJECT.search(quoted[-1]) is None


def _screened_about_someone_else(question: str, pattern: re.Pattern[str]) -> bool:
    """Every place the question names the topic is about another person ("when your husband's not around?")."""
    for match in pattern.finditer(question):
        subjects = list(lex.SCREEN_SUBJECT.finditer(_clause(question[: match.start()])))
        if not subjects or subjects[-1].group(1) is not None:
            return False
    return True


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


@dataclass(frozen=True)
class _Question:
    kind: str
    asks_plan: bool
    no_is_risk: bool = False  # "Do you feel safe at home?"


def _screening_question(
    sentences: Sequence[str], role: str | None, topic: tuple[str, int] | None, pos: int
) -> list[_Question]:
    """What the screening question a line ends on asks about, one entry per risk kind it names."""
    if role not in ("therapist", None):
        return []
    # a therapist's "And hurting anyone else?" is a question; an unlabelled speaker's must be put to "you"
    short_turn = len(sentences) <= SHORT_TURN_SENTENCES
    questions = [
        s for s in sentences if _asks_someone(s) or (role == "therapist" and _heard_as_question(s, short_turn))
    ]
    if not questions:
        return []
    last = questions[-1]
    # the topic may sit in the line's lead-in ("Some people think about suicide. Has that been true for you?")
    context = " ".join(sentences[max(0, sentences.index(last) - 2) : sentences.index(last) + 1])
    asks_plan = lex.SCREEN_PLAN.search(last) is not None
    if lex.SCREEN_SAFE.search(last):
        return [_Question("abuse_neglect", False, no_is_risk=True)]
    if lex.SCREEN_LIFE_WORTH.search(last):
        return [_Question("suicidal_ideation", False, no_is_risk=True)]
    refers_back = lex.REFERS_BACK.search(last) is not None
    for text in (last, context) if refers_back else (last,):
        # other people's risk is asked about only as a lead-in ("Some people … think about suicide. Has that …?")
        named = [
            kind
            for kind, pattern in lex.SCREEN_TOPIC.items()
            if pattern.search(text)
            and (refers_back or kind == "abuse_neglect" or not _screened_about_someone_else(text, pattern))
        ]
        if named:  # "Any thoughts of hurting yourself or ending things?" asks about both
            return [_Question(kind, asks_plan) for kind in named]
    if topic is not None and pos - topic[1] <= TOPIC_MEMORY_LINES:
        if asks_plan:
            return [_Question(topic[0], True)]
        # "Do you still feel that way?", or a topic the recogniser garbled; not a question about drinking
        if lex.FOLLOW_UP.search(last) and not any(p.search(last) for k, _, p in lex.CUES if k == "substance_use"):
            return [_Question(topic[0], False)]
    return []


def _heard_as_question(sentence: str, short_turn: bool) -> bool:
    """A therapist's sentence that asks, even when the recogniser lost its "?" and its "have you" ("Heavy had
    thoughts of ending your life.") — a screening topic put to "you" in a short turn, unless it proposes something
    ("Let's …"), informs ("Alcohol could really harm you, because …") or says it did not happen ("So you didn't
    hurt anybody.")."""
    if sentence.endswith("?") or lex.QUESTION_INSIDE.search(sentence):
        return True
    if not short_turn or len(sentence.split()) > SHORT_QUESTION_WORDS:
        return False
    if lex.PROPOSAL.match(sentence) or not lex.SECOND_PERSON.search(sentence):
        return False
    for pattern in lex.SCREEN_TOPIC.values():
        if any(not _negated(sentence[: m.start()]) for m in pattern.finditer(sentence)):
            return True
    return False


def _answer_flag(sentences: Sequence[str], segment: str, question: _Question) -> tuple[str, str, str] | None:
    """(severity, quote, detail) for a reply to a screening question, or None when it neither endorses nor denies."""
    if not sentences:
        return None
    kind = question.kind
    first = sentences[0]
    opening = " ".join(sentences[:2])
    named = next((s for s in sentences if _endorsed(lex.HIGH_SEGMENT[kind], _plain(s))), None)
    owns = lex.OWNS_IT.search(opening) is not None and not lex.DENY.match(first)
    if question.no_is_risk:
        if lex.DENY.match(first):
            detail = "does not feel safe" if kind == "abuse_neglect" else "sees no reason to live"
            return "moderate", _quote(first, 0, 0), detail
        return None
    if kind == "abuse_neglect" and lex.NAMES_SOMEONE.match(first):
        return "moderate", _quote(first, 0, 0), "names who hurts them"
    if lex.DENY.match(first) and not owns:
        return "denied", _quote(first, 0, 0), ""
    if owns or lex.AFFIRM.match(first):
        last = named or (first if lex.AFFIRM.match(first) else next(s for s in sentences[:2] if lex.OWNS_IT.search(s)))
        quote = _span(segment, first, last)
        if lex.PAST.search(segment) and not lex.RECENT.search(segment):
            return "low", quote, "in the past"
        if question.asks_plan or named:
            return "high", quote, "plan or means endorsed when asked"
        detail = "endorsed when asked"
        if kind == "suicidal_ideation" and _endorsed(lex.PLAN_DENIED, segment):
            active = lex.ACTIVE_WORDS.search(lex.PLAN_DENIED.sub(" ", segment)) is not None
            detail = "denies a plan" if active else "passive ideation; denies a plan"
        return "moderate", quote, detail
    return None if named is None else ("high", _quote(named, 0, 0), "plan or means named")


def _span(segment: str, first: str, last: str) -> str:
    """The segment's words from sentence ``first`` through sentence ``last``, verbatim (one sentence if too long)."""
    start = segment.find(first)
    end = segment.find(last, start) + len(last)
    span = segment[start:end]
    return span if len(span) <= MAX_QUOTE_CHARS else _quote(last, 0, 0)
