"""The card summary (one or two sentences) and the plan steps it reports, built only from the transcript.

Method (see docs/decisions/0006-local-notes.md):

* **Topics** come from a curated list of whole noun phrases (``TOPICS``: "sleep", "alcohol use", "relationship
  with partner", …), each with phrase patterns. A line mentioning a topic counts 1 for the client (1.5 when a
  note section cites it) and 0.5 for the therapist; a topic needs at least 2, one client mention, and a third of
  the top topic's count. Up to three are named. No other word ever becomes a topic.
* **Plan steps** (:func:`plan_steps`) are therapist sentences that propose a concrete step (homework, a referral,
  a safety plan, a crisis line, means restriction, emergency contacts, the next appointment, a follow-up call),
  with the client's reply when it agrees ("Okay, I can do that").
* **Risk**: suicidal ideation or self-harm above "denied" gets its own sentence (passive when the flag's detail
  says so; a plan denied or described when the client's words say so; the safety step agreed or proposed);
  other kinds above "denied" are named as flagged for review. Never more than 240 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tbdesktop.engine.notes.risk import split_sentences
from tbdesktop.engine.notes.risk_lexicon import phrases
from tbdesktop.engine.notes.types import RISK_KINDS, NoteSection, RiskFlagResult, TranscriptLine

MAX_SUMMARY_CHARS = 240
MAX_TOPICS = 3
MIN_TOPIC_SCORE = 2.0
SHORT_SESSION_LINES = 10  # client lines per required mention, up to MIN_TOPIC_SCORE
MIN_TOPIC_SHARE = 1 / 3  # of the top topic's score: a passing mention is not a main concern
EMPTY_SUMMARY = "No speech was transcribed in this session."
NO_TOPIC_SUMMARY = "Brief session; no main topic stood out in the transcript."
AGREE_LOOKAHEAD = 2  # a reply counts as agreement within this many lines after the proposal

RISK_NAMES = {
    "suicidal_ideation": "suicidal ideation",
    "self_harm": "self-harm",
    "harm_to_others": "harm to others",
    "abuse_neglect": "abuse or neglect",
    "substance_use": "substance use",
}
SAFETY_KINDS = ("suicidal_ideation", "self_harm")
_CLIENT_ROLES = ("client", "partner", "participant")

# fmt: off
_DRINK = (r"drink(?:s|ing)?(?!\s+(?:a lot of |lots of |more |some |of |a cup of |a glass of )?"
          r"(?:coffee|tea|water|juice|soda|milk|pop|energy))")
TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sleep", phrases(r"sleep\w*", "slept", "asleep", "insomnia", "tired", "exhausted", "awake", "nightmares?",
                      "bedtime")),
    ("alcohol use", phrases(_DRINK, "drank", "drunk", "alcohol", "wine", "beers?", "vodka", r"whiske?y", "liquor",
                            "booze", "hangover", "hungover", "pints?")),
    ("drug use", phrases("drugs?", "weed", "marijuana", "cannabis", "cocaine", "heroin", "meth", "opioids?",
                         "using again", "relaps\\w*", "high on", "stoned")),
    ("smoking", phrases(r"smok\w*", "cigarettes?", "cigs?", "nicotine", r"vap(?:e|es|ing)", "tobacco")),
    ("work", phrases(r"(?:at|from|to|after|before|my|of|off) work", r"work(?:'s| is| was| has| had| been| life)",
                     "jobs?", "boss",
                     r"co-?workers?", "manager", "deadlines?", "workplace", "career", "fired", "promotion")),
    ("stress", phrases(r"stress\w*", "pressure", r"overwhelm\w*")),
    ("anxiety", phrases(r"anxi\w*", r"worr(?:y|ied|ies|ying)", r"panic\w*", "nervous", "scared", "afraid",
                        "fears?")),
    ("low mood", phrases(r"depress\w*", "sad", "sadness", "hopeless", "low mood", "mood",
                         r"(?:feel|feeling|felt) (?:so |really |very |pretty |kind of )?(?:low|down|empty|numb)",
                         r"cry(?:ing)?", "pretty low")),
    ("relationship with partner", phrases("partner", "boyfriend", "girlfriend", "husband", "wife", "marriage",
                                          r"divorc\w*", "my ex", "relationship")),
    ("family", phrases("family", "mom", "mum", "mother", "dad", "father", "parents?", "brother", "sister",
                       "sons?", "daughters?", "kids", "children")),
    ("grief", phrases("grief", r"griev\w*", "funeral", "passed away", "died")),
    ("finances", phrases("money", "bills", "debts?", "rent", r"financ\w*", "paycheck", "afford")),
    ("physical health", phrases("health", "doctors?", "illness", "sick", "hospital", "diabetes", "asthma",
                                "blood (?:pressure|sugar)", "inhalers?", "heart", "insulin")),
    ("anger", phrases("anger", "angry", "irritable", "furious", r"frustrat\w*", r"argu(?:e|ed|ing|ment|ments)",
                      "yelled", "yelling")),
    ("loneliness", phrases("lonely", "loneliness", r"isolat\w*")),
    ("school", phrases("school", "classes", "exams?", "grades", "teachers?", "college", "university")),
    ("self-esteem", phrases(r"confiden\w*", "worthless", "failure", "ashamed", "shame", "self-esteem")),
    ("eating habits", phrases("appetite", "eating", r"diet\w*", "weight", "food", "meals?", "snacks?")),
    ("exercise", phrases(r"exercis\w*", "gym", "workouts?", "jogging", "running", "walking", "walks",
                         "physically active", "fitness")),
    ("medication", phrases("medications?", "medicines?", "meds", r"prescri\w*", "doses?", "sertraline",
                           "zoloft", "prozac", "lexapro", "xanax", "trazodone", "antidepressants?")),
    ("friendships", phrases("friends?", "friendships?")),
    ("gambling", phrases(r"gambl\w*", "betting", "bets?", "casino", "poker", "slots", "lottery")),
    ("legal problems", phrases("probation", "parole", "court", "jail", "prison", "arrested", "police",
                               "lawyer", "charges")),
    ("caffeine", phrases("coffee", "caffeine", "energy drinks?")),
    ("housing", phrases("housing", "apartment", r"evict\w*", "homeless", "landlord", "flatmates?", "roommates?",
                        "moving out", "move out")),
)

# (kind, how the summary names it, what a therapist says when proposing it)
STEPS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("safety plan", "a safety plan", phrases("safety plan", "safety planning")),
    ("crisis line", "crisis line details", phrases(r"crisis (?:line|number|team|text line|service)", "hot ?line",
                                                   "988", "911", "samaritans", "lifeline", "emergency services",
                                                   r"(?:go|get|call) (?:to )?(?:the )?(?:emergency (?:room|department|"
                                                   r"number)|er)")),
    ("means restriction", "restricting access to means", re.compile(
        r"\b(?:lock\w*|remove|get rid of|put (?:them |it )?away|hand (?:them |it )?(?:over|in)|give (?:them|it) to|"
        r"keep (?:them|it) away|store)\b[^.?!]{0,40}\b(?:pills|medications?|meds|guns?|firearms?|knives|knife|"
        r"razors?|blades?|weapons?|means)\b", re.IGNORECASE)),
    ("emergency contacts", "emergency contacts", phrases(
        "someone you trust", "emergency contacts?", "who (?:could|can|would) you call",
        r"(?:call|text|reach out to|stay with) (?:your|a) (?:sister|brother|friend|mom|mum|mother|dad|father|partner|"
        r"wife|husband|family|neighbou?r)")),
    ("referral", "a referral", phrases(r"refer(?:ral|rals|red|ring)?", "psychiatrist", "support groups?",
                                       "AA meetings?", "alcoholics anonymous", "specialist",
                                       r"(?:see|call|contact) your (?:doctor|gp)")),
    ("homework", "homework", phrases(
        "homework", "worksheets?", "journal", "diary", r"keep (?:a )?(?:log|track)",
        r"(?:you (?:could |can |might )?|and )write (?:\w+ )?down",
        r"practi[cs]e (?:it|this|that|the|these|them|every|each|at home|daily)", "each (?:day|night)",
        r"every (?:day|night|morning|evening)", "before bed", "between now and",
        r"(?:during|over) the (?:coming )?week", r"this (?:coming )?week,? (?:try|i'd like you|you could|see if)")),
    ("next appointment", "a follow-up appointment", phrases(
        r"next (?:session|appointment|visit)", "meet again",
        r"(?:see|meet|talk|revisit|discuss|review|go over)\w*\b[^.?!]{0,30}\bnext (?:week|time|session)",
        r"next time (?:you|we|i) (?:come|meet|see|talk)",
        r"(?:set up|make|book|schedule) (?:an|another|a|your|the) (?:\w+ )?(?:appointment|session|visit|follow-up)",
        r"see you (?:again )?(?:on|in|next|later|soon)", r"come (?:back|in) (?:and|to see|in|next|on)")),
    ("follow-up", "a follow-up call", phrases(
        r"follow[- ]?up (?:appointment|call|visit|with you)", r"check[- ]in with you", "a check-in",
        r"(?:i|we)(?:'ll| will| can| could| would) (?:call|phone|ring|text|check in with|follow up with) you")),
)
SAFETY_STEPS = frozenset(
    {"safety plan", "crisis line", "means restriction", "emergency contacts", "follow-up", "next appointment"}
)
# A therapist sentence offers a step when framed as a proposal, an arrangement or an instruction.
_PROPOSAL = phrases(
    "let's", "let us", r"i(?:'d| would) like (?:you|us|to)", "i want you to",
    r"would you (?:be )?(?:willing|open|like)", r"are you (?:willing|open)", "could you", "can you",
    "why don't (?:you|we)", "how about", "what about",
    r"i (?:suggest|recommend)", r"my (?:suggestion|recommendation)", "i'm going to", "i will", "i'll", "we'll",
    "we will", "we can", "we could", "you can", "you could", "you might", "make sure", "remember to", "please",
    "for homework", "your homework", "look forward to", "here's", "here is",
    r"see you (?:again )?(?:on|in|next|later|soon|then)",
    r"i(?:'ll| will) (?:give|send|call|refer|check)", "i'm referring", r"(?:is|was) there someone",
)
_REFLECTION = phrases(r"(?:good|nice|great|glad|lovely|pleasure) to (?:see|meet) you", "see you're back",
                      r"(?:it )?sounds like", "so you", r"you (?:said|mentioned|told me|were saying|'ve been)",
                      "last (?:week|time|session)", "you used to", "have you ever", "did you")
_IN_SESSION = phrases("right now", "together now", "in here", "for a moment", "close your eyes")
_AGREE = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|ok(?:ay)?|sure|alright|all right|definitely|absolutely|of course|fine|deal|"
    r"sounds (?:good|great|fine|like a plan)|that (?:works|sounds|would|could|makes sense)|good idea|i agree|"
    r"let's|i (?:can|will|could|'ll|would|think i can|guess i can|'m willing|am willing))\b",
    re.IGNORECASE,
)
_NEGATION = phrases("no", "not", "never", r"\w+n't", "cannot")
_PLAN_WORD = phrases("plans?")
_PASSIVE = re.compile(r"\bpassive\b", re.IGNORECASE)
_DENIES_PLAN = re.compile(r"\b(?:denie?s?d?|no|without)\b[^.;]*\bplan", re.IGNORECASE)
# fmt: on
_RANK = {"denied": 0, "low": 1, "moderate": 2, "high": 3}


@dataclass(frozen=True)
class PlanStep:
    """A therapist's proposed step (its sentences, verbatim) and the client's agreeing reply, if any."""

    line: TranscriptLine
    text: str
    kinds: tuple[str, ...]
    question: bool
    agreement: TranscriptLine | None = None


def plan_steps(lines: Sequence[TranscriptLine]) -> list[PlanStep]:
    """Every therapist proposal of a concrete step, in transcript order, with the client's agreement if given.
    Without speaker roles, anyone's proposal counts, and another speaker's reply is the agreement."""
    unlabelled = all(line.role is None for line in lines)
    steps: list[PlanStep] = []
    for pos, line in enumerate(lines):
        if line.role != "therapist" and not unlabelled:
            continue
        picked: list[str] = []
        kinds: list[str] = []
        for sentence in split_sentences(line.text):
            found = [kind for kind, _, pattern in STEPS if pattern.search(sentence)]
            if found and _proposes(sentence, found):
                picked.append(sentence)
                kinds += [k for k in found if k not in kinds]
        if picked:
            question = picked[-1].endswith("?")
            steps.append(PlanStep(line, " ".join(picked), tuple(kinds), question, _agreement(lines, pos)))
    return steps


def _proposes(sentence: str, kinds: Sequence[str]) -> bool:
    if _REFLECTION.search(sentence) and not _PROPOSAL.search(sentence.split(",")[-1]):
        return False
    if "safety plan" not in kinds and _IN_SESSION.search(sentence):
        return False
    if sentence.endswith("?") and not re.search(
        r"would you|could you|can you|are you|how about|what about|can we|"
        r"shall we|is there someone|who (?:could|can|would) you",
        sentence,
        re.IGNORECASE,
    ):
        return False
    return _PROPOSAL.search(sentence) is not None or "safety plan" in kinds


def _agreement(lines: Sequence[TranscriptLine], pos: int) -> TranscriptLine | None:
    """The client's reply right after the proposal when it agrees ("Okay, I can do that")."""
    proposer = lines[pos]
    for line in lines[pos + 1 : pos + 1 + AGREE_LOOKAHEAD]:
        if line.role == "therapist" or line.speaker == proposer.speaker:
            continue  # the same proposal, split into two segments
        first = next(iter(split_sentences(line.text)), "")
        opener = _AGREE.match(first)
        if opener is None:
            return None
        strong = opener.group(0).strip(" ,.!").lower().split()[0] in ("yes", "yeah", "okay", "ok", "sure", "alright")
        return line if strong or not _NEGATION.search(first) else None
    return None


def summarise(
    lines: Sequence[TranscriptLine], sections: Sequence[NoteSection], risk_flags: Sequence[RiskFlagResult]
) -> str:
    """The client's main concerns and what was agreed, then the risk raised (if any), in plain sentences."""
    spoken = [line for line in lines if line.text.strip()]
    if not spoken:
        return EMPTY_SUMMARY
    topics = _topics(spoken, sections)
    steps = plan_steps(spoken)
    agreed = _named_steps(s for s in steps if s.agreement is not None)
    safety, safety_agreed = _safety_clause(steps)
    risk = _risk_sentence(risk_flags, spoken, safety)
    others = _other_risks(risk_flags)
    if risk and safety_agreed:
        agreed = [a for a in agreed if a != safety_agreed]
    has_client = any(line.role in _CLIENT_ROLES for line in spoken)
    who = "Clients" if any(line.role == "partner" for line in spoken) else "Client" if has_client else ""
    while True:
        text = " ".join(s for s in (_first_sentence(who, topics, agreed), risk, others) if s)
        if len(text) <= MAX_SUMMARY_CHARS:
            return text
        if others:
            others = ""
        elif len(topics) > 1:
            topics = topics[:-1]
        elif agreed:
            agreed = agreed[:-1]
        elif topics:
            topics = []
        else:
            return text[:MAX_SUMMARY_CHARS]


def _first_sentence(who: str, topics: Sequence[str], agreed: Sequence[str]) -> str:
    if topics:
        subject = f"{who} discussed" if who else "The session covered"
        tail = f"{',' if len(topics) > 1 else ''} and agreed to {_join(agreed)}" if agreed else ""
        if agreed and not who:
            tail = f"; {_join(agreed)} {'was' if len(agreed) == 1 else 'were'} agreed"
        return f"{subject} {_join(topics)}{tail}."
    if agreed:
        return f"{who or 'The client'} agreed to {_join(agreed)}."
    return NO_TOPIC_SUMMARY


def _topics(lines: Sequence[TranscriptLine], sections: Sequence[NoteSection]) -> list[str]:
    has_client = any(line.role in _CLIENT_ROLES or line.role is None for line in lines)
    cited = {i for section in sections for i in section.evidence}
    scores: dict[str, float] = {}
    by_client: set[str] = set()
    for line in lines:
        client = line.role != "therapist" or not has_client
        weight = (1.5 if line.idx in cited else 1.0) if client else 0.5
        text = line.text.lower()
        for name, pattern in TOPICS:
            if pattern.search(text):
                scores[name] = scores.get(name, 0.0) + weight
                if client:
                    by_client.add(name)
    if "work" in scores and "stress" in by_client:  # "work" and "stress" together read as one concern
        scores["work"] += scores.pop("stress")
        scores["work stress"] = scores.pop("work")
        by_client.add("work stress")
    top = max(scores.values(), default=0.0)
    order = {name: n for n, (name, _) in enumerate(TOPICS)}
    ranked = sorted(scores, key=lambda t: (-scores[t], order.get(t, 0)))
    client_lines = sum(1 for line in lines if line.role != "therapist")
    # a short session mentions each concern about once
    floor = max(min(MIN_TOPIC_SCORE, max(1.0, client_lines / SHORT_SESSION_LINES)), top * MIN_TOPIC_SHARE)
    return [t for t in ranked if scores[t] >= floor and t in by_client][:MAX_TOPICS]


def _named_steps(steps: Iterable[PlanStep]) -> list[str]:
    names = {kind: name for kind, name, _ in STEPS}
    out: list[str] = []
    for step in steps:
        for kind in step.kinds:
            if kind in ("crisis line", "emergency contacts", "means restriction"):
                continue  # named in the risk sentence, not as something agreed
            if names[kind] not in out:
                out.append(names[kind])
    return out


def _safety_clause(steps: Sequence[PlanStep]) -> tuple[str, str]:
    """(clause, the agreed step it names) for the risk sentence: the safety step agreed, else proposed."""
    for agreed in (True, False):
        for kind, text in (("safety plan", "a safety plan"), ("crisis line", "crisis line details")):
            if any(kind in s.kinds and (s.agreement is not None) == agreed for s in steps):
                if kind == "crisis line":
                    return "crisis line details were given", ""
                return f"{text} was {'agreed' if agreed else 'proposed'}", text if agreed else ""
    return "", ""


def _risk_sentence(flags: Sequence[RiskFlagResult], lines: Sequence[TranscriptLine], safety: str) -> str:
    """E.g. "Passive suicidal ideation was disclosed; the client denied a plan, and a safety plan was agreed."."""
    parts: list[str] = []
    for kind in SAFETY_KINDS:
        raised = [f for f in flags if f.kind == kind and f.severity != "denied"]
        if not raised:
            continue
        name = RISK_NAMES[kind]
        if kind == "suicidal_ideation" and all(_PASSIVE.search(f.detail) for f in raised):
            name = f"passive {name}"
        parts.append(name)
    if not parts:
        return ""
    clauses = [f"{_join(parts)[:1].upper()}{_join(parts)[1:]} {'was' if len(parts) == 1 else 'were'} disclosed"]
    plan = _plan_status(flags, lines)
    if plan:
        clauses.append(plan)
    if safety:
        clauses.append(safety)
    if len(clauses) == 1:
        return clauses[0] + "."
    return f"{clauses[0]}; " + (", and ".join(clauses[1:]) if len(clauses) == 3 else clauses[1]) + "."


def _plan_status(flags: Sequence[RiskFlagResult], lines: Sequence[TranscriptLine]) -> str:
    """What the client said about a plan: "the client denied a plan", "a plan was described", or nothing."""
    safety = [f for f in flags if f.kind in SAFETY_KINDS]
    if any(f.severity != "denied" and _PLAN_WORD.search(f.quote) and not _NEGATION.search(f.quote) for f in safety):
        return "a plan was described"
    by_idx = {line.idx: line for line in lines}
    for flag in safety:
        said = by_idx[flag.segment_idx].text if flag.segment_idx in by_idx else flag.quote
        if any(_DENIES_PLAN.search(s) or _negated_plan(s) for s in split_sentences(said)) or _DENIES_PLAN.search(
            flag.detail
        ):
            return "the client denied a plan"
    return ""


def _negated_plan(sentence: str) -> bool:
    match = _PLAN_WORD.search(sentence)
    return match is not None and _NEGATION.search(sentence[: match.start()].split(",")[-1]) is not None


def _other_risks(flags: Sequence[RiskFlagResult]) -> str:
    kinds = [k for k in RISK_KINDS if k not in SAFETY_KINDS and any(f.kind == k and _RANK[f.severity] for f in flags)]
    return f"Flagged for review: {_join([RISK_NAMES[k] for k in kinds])}." if kinds else ""


def _join(items: Sequence[str]) -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
