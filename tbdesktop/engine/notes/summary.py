"""The one-line summary for the session card, built only from the transcript's words.

Method (see docs/decisions/0006-local-notes.md): the client's speech (everyone's when no one is labelled a
client) is cut into words; stop words, fillers and risk words are dropped and the rest reduced to crude stems.
Stems that belong to a common therapy topic (``_TOPICS``: "sleep", "slept", "tired" → sleep; "wine",
"drinking" → alcohol use) count toward that topic; any other word counts on its own at three quarters
weight. A word in a segment that a note section cites counts twice. The (up to) three topics mentioned at
least twice, most frequent first, make the first sentence; a second names the risk kinds flagged with a
severity other than "denied". Never more than 240 characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tbdesktop.engine.notes.types import RISK_KINDS, NoteSection, RiskFlagResult, TranscriptLine

MAX_SUMMARY_CHARS = 240
MAX_TOPICS = 3
MIN_TOPIC_SCORE = 2.0
EMPTY_SUMMARY = "No speech was transcribed in this session."
NO_TOPIC_SUMMARY = "Brief session; no main topic stood out in the transcript."

RISK_NAMES = {
    "suicidal_ideation": "suicidal ideation",
    "self_harm": "self-harm",
    "harm_to_others": "harm to others",
    "abuse_neglect": "abuse or neglect",
    "substance_use": "substance use",
}
_CLIENT_ROLES = ("client", "partner", "participant")

_STOP = frozenset(
    """a about above after again against all also always am an and any anyone anything are aren't around as at
    be because been before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either else even ever every everyone everything few for from further
    get gets getting got gonna had hadn't has hasn't have haven't having he he'd he'll he's her here hers herself
    him himself his how i i'd i'll i'm i've if in into is isn't it it's its itself just let's lot lots me might
    mine more most much must my myself need needs neither never no nor not nothing now of off often oh ok okay
    on once one only or other others our ours ourselves out over own per quite rather really right same she
    she'd she'll she's should shouldn't so some someone something sometimes still such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've thing things this those
    though through to too under until up upon us very was wasn't we we'd we'll we're we've well were weren't what
    what's when where which while who whom whose why will with without won't would wouldn't yeah yes yet you
    you'd you'll you're you've your yours yourself um uh uhm erm hmm mm mhm like know mean guess kind sort
    actually pretty maybe probably basically literally totally definitely anyway stuff way yep nope
    client clients client's therapist session sessions include including includes relevant words their such e.g
    etc note notes section describe brief any""".split()
)
_TOPIC_STOP = _STOP | frozenset(
    """think thought feel feeling feels felt want wanted go going went come came say said tell told make made
    take took see saw look looked try tried talk talked give gave put keep kept start started stop stopped
    seem seems work's time times day days week weeks month months year years today tonight yesterday tomorrow
    morning night last next first good bad better worse little bit big new old long whole able sure okay fine
    great hard people person everybody somebody nobody thank thanks hello hi bye talking telling trying happen
    happened happening doing done getting used lately since ago around back part point question call called
    home house place left right kid kids glass glasses cup cups bottle hour hours minute minutes half couple
    lot end plan plans""".split()
)
# Words never used as topics: the risk sentence speaks about these, and only when a flag was raised.
_RISK_WORDS = frozenset("kill killing killed die dying dead suicide suicidal hurt hurting harm cut cutting".split())

_TOPICS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (label, frozenset(stems.split()))
    for label, stems in (
        ("sleep", "sleep slept insomnia tired exhaust awake bed bedtime nap nightmare rest"),
        ("alcohol use", "drink drank drunk alcohol wine beer vodka whiskey liquor hangover hungover booze bar"),
        ("drug use", "weed marijuana cannabis cocaine heroin meth stoned opioid relapse relaps"),
        ("work", "work job boss office coworker career shift manager deadline promotion fired"),
        ("stress", "stress stressful pressure overwhelm"),
        ("anxiety", "anxiety anxious worry panic nervous fear afraid scared"),
        ("low mood", "sad depress depression hopeless cry empty numb low unmotivat"),
        ("relationship", "relationship partner boyfriend girlfriend marriage husband wife divorc divorce dating"),
        ("family", "family mom mother dad father parent brother sister son daughter child children"),
        ("grief", "grief griev loss funeral death"),
        ("finances", "money bill debt rent finance financial paycheck"),
        ("health", "health doctor illness sick hospital diagnos diagnosis"),
        ("anger", "anger angry irritable irritat frustrat frustration mad argu argument fight yell"),
        ("loneliness", "lonely alone isolat"),
        ("school", "school class exam grade teacher college homework"),
        ("self-esteem", "confidence worthless failure ashamed shame"),
        ("eating", "appetite eat food weight"),
        ("exercise", "gym workout jog jogging running"),
        ("medication", "medication med prescription dose sertraline zoloft prozac lexapro xanax trazodone"),
        ("friendships", "friend friendship"),
    )
)
_WORD = re.compile(r"[a-z][a-z'’]*")


def stem(word: str) -> str:
    """A crude, deterministic stem: enough to match "sleeping" with "sleep" and "worries" with "worry"."""
    word = word.replace("’", "'").removesuffix("'s")
    for suffix, repl, keep in (("ies", "y", 3), ("ied", "y", 3), ("ing", "", 3), ("ed", "", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            return word[: -len(suffix)] + repl
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def content_stems(text: str) -> frozenset[str]:
    """Stems of a text's content words (stop words, fillers and very short words left out)."""
    return frozenset(stem(w) for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP)


def summarise(
    lines: Sequence[TranscriptLine], sections: Sequence[NoteSection], risk_flags: Sequence[RiskFlagResult]
) -> str:
    """One or two sentences: the main topics of the client's speech, then the risk kinds flagged (if any)."""
    spoken = [line for line in lines if line.text.strip()]
    if not spoken:
        return EMPTY_SUMMARY
    risk = _risk_sentence(risk_flags)
    topics = _topics(spoken, sections)
    has_client = any(line.role in _CLIENT_ROLES for line in spoken)
    subject = "Client discussed" if has_client else "The session covered"
    if any(line.role == "partner" for line in spoken):
        subject = "Clients discussed"
    while topics:
        text = f"{subject} {_join(topics)}." + (f" {risk}" if risk else "")
        if len(text) <= MAX_SUMMARY_CHARS:
            return text
        topics = topics[:-1]
    text = NO_TOPIC_SUMMARY + (f" {risk}" if risk else "")
    return text if len(text) <= MAX_SUMMARY_CHARS else (risk or NO_TOPIC_SUMMARY)[:MAX_SUMMARY_CHARS]


def _topics(lines: Sequence[TranscriptLine], sections: Sequence[NoteSection]) -> list[str]:
    speakers = [line for line in lines if line.role in _CLIENT_ROLES or line.role is None] or list(lines)
    cited = {i for section in sections for i in section.evidence}
    lexicon = {s: label for label, stems in _TOPICS for s in stems}
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    surface: dict[str, dict[str, int]] = {}  # a word topic is shown as its most frequent spelling
    mentions: dict[str, int] = {}
    for line in speakers:
        weight = 2.0 if line.idx in cited else 1.0
        for word in _WORD.findall(line.text.lower()):
            if len(word) < 3 or word in _TOPIC_STOP or word in _RISK_WORDS or "'" in word or "’" in word:
                continue
            root = stem(word)
            topic = lexicon.get(root) or lexicon.get(word)
            name, gain = (topic, weight) if topic else (root if len(root) > 3 else "", 0.75 * weight)
            if not name or name in _TOPIC_STOP:
                continue
            scores[name] = scores.get(name, 0.0) + gain
            mentions[name] = mentions.get(name, 0) + 1
            first_seen.setdefault(name, len(first_seen))
            if not topic:
                forms = surface.setdefault(name, {})
                forms[word] = forms.get(word, 0) + 1
    ranked = sorted(scores, key=lambda t: (-scores[t], first_seen[t]))
    chosen = [t for t in ranked if scores[t] >= MIN_TOPIC_SCORE and (t not in surface or mentions[t] > 1)]
    chosen = chosen[:MAX_TOPICS]
    return [max(surface[t], key=lambda w: (surface[t][w], w)) if t in surface else t for t in chosen]


def _risk_sentence(flags: Sequence[RiskFlagResult]) -> str:
    kinds = [k for k in RISK_KINDS if any(f.kind == k and f.severity != "denied" for f in flags)]
    return f"Risk noted: {_join([RISK_NAMES[k] for k in kinds])}." if kinds else ""


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
