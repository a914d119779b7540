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
* ``detail`` carries a short qualifier the clinician reads first: "passive ideation; denies a plan", "plan
  disclosed", "attempt disclosed", "past attempt", "heavy or frequent use", "endorsed when asked".
* One flag per (kind, segment), the most severe; flags come in transcript order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tbdesktop.engine.notes.types import RISK_KINDS, RiskFlagResult, TranscriptLine

MAX_QUOTE_CHARS = 200
TOPIC_MEMORY_LINES = 6  # a "Do you have a plan?" refers to the risk talked about within this many lines
_RANK = {"denied": 0, "light": 0, "low": 1, "moderate": 2, "high": 3}
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
        r"kill(?:ing|ed)? my ?self", r"end(?:ing)? my (?:own )?life", r"end(?:ing)? it all", r"take my (?:own )?life",
        r"suicidal", r"(?:thoughts?|thinking|thought) (?:about|of) suicide", r"suicide (?:attempt|plan|note)",
        r"commit(?:ting)? suicide", r"(?:want|wanted|wanting) to die", r"(?:don't|do not) want to (?:be alive|live)",
        r"(?:hang|shoot|drown|overdose) my ?self", r"better off dead",
        r"jump(?:ing)? (?:off|from|in front of) (?:a|the) (?:bridge|building|roof|train|car)",
        r"(?:think|thinking|thought|thoughts) (?:about|of) (?:jumping|dying|overdosing|ending it|ending things|"
        r"taking (?:all )?(?:my|the|those) pills)",
        r"(?:should|could|would|want to|going to|gonna) (?:just )?end (?:it|things)(?! with)",
        r"(?:use|using|used|turn|turning|turned) (?:it|the gun|a gun|them|the pills) on my ?self",
        r"(?:don't|do not) want to (?:live|be alive|go on|keep going|be here) (?:like this|anymore|any more)",
    )),
    ("suicidal_ideation", "low", _rx(
        r"wish(?:ed)? i (?:was|were|had been) (?:dead|never born)", r"wish(?:ed)? i (?:had|'d) died",
        r"wish i could (?:just )?(?:disappear|die|not wake up|stop existing)",
        r"(?:don't|do not|didn't) want to wake up",
        r"(?:wouldn't|would not|won't|will not|never|not|don't|didn't) wake up",
        r"better (?:off )?with ?out me",
        r"(?:picture|picturing|imagine|imagining|think about|thinking about) my (?:own )?funeral",
        r"better off if i (?:was|were|wasn't|weren't)",
        r"if i (?:was|were|wasn't|weren't)(?: not)? (?:here|around|alive|gone|dead|in the picture)",
        r"if i (?:disappeared|died|was to die|were to die|just died|just disappeared)",
        r"(?:rather|better|easier|best)(?: if i| to)? (?:not|never)? ?(?:be|being|was|were) (?:here|around|alive)",
        r"not (?:be|being) (?:here|around|alive) (?:anymore|any more|much longer)",
        r"(?:want|wanted|wanting|wish|need|like|love) to (?:just )?disappear",
        r"(?:could|would|should) (?:just )?disappear", r"disappear (?:for good|forever)",
        r"(?:stop|not) exist(?:ing)?", r"what(?:'s| is) the point (?:of|in) (?:living|going on|life|being alive|"
        r"being here|carrying on|it all|anything|any of it)",
        r"(?:can't|cannot|couldn't|don't|do not|can not) (?:\w+ ){0,2}(?:find|see|think of|have) (?:a|any) reason "
        r"to (?:live|keep living|go on|keep going|be here|stay|get up)",
        r"(?:no|not a|not any) reason (?:to|for) (?:live|living|keep living|go on|going on|be here|being here)",
        r"tired of (?:living|being alive|life)", r"no reason to live", r"not worth living",
        r"wish(?:ed)? i(?:'d| had)? (?:never|not) been born", r"rather be dead",
        r"(?:wait|waiting) for (?:it|life) to (?:be over|end)",
        r"(?:want|wanted|wish) (?:it|everything|my life) (?:all )?to (?:end|be over|stop for good)",
        r"(?:not|never) (?:want|wanted) to (?:be here|exist) (?:anymore|any more)",
        r"go to sleep and (?:never|not) wake", r"(?:die|died) in my sleep",
    )),
    ("self_harm", "moderate", _rx(
        r"(?:cut|cuts|cutting) (?:myself|my (?:arms?|wrists?|legs?|thighs?|skin))",
        r"(?:hurt|hurting|harm|harming) myself", r"self[- ]harm(?:ing)?", r"(?:burn|burned|burnt|burning) myself",
        r"(?:hit|hitting|punch|punched|punching) myself", r"scratch(?:ed|ing)? myself",
        r"(?:bang|banged|banging|hit|hitting) my head (?:against|on|into)", r"(?:bang|banged|banging) my head",
        r"(?:started|start|starting|been|was|keep|kept|stopped|quit) cutting(?! (?:back|down|out|off|the|up|it|class|"
        r"classes|corners|ties|people|him|her|them|hair|grass|wood|paper|vegetables|carbs|sugar))",
        r"cutting again", r"(?:cut|cuts|cutting|scratch\w*|burn\w*) (?:on )?my (?:arms?|wrists?|legs?|thighs?|stomach)",
        r"(?:used|use|using) (?:a|the|my) (?:razor|blade|knife|lighter) on (?:myself|my)",
        r"until (?:it|they|i) bled", r"(?:bite|bit|biting) (?:myself|my (?:arms?|hands?|wrists?|skin))",
        r"(?:hurt|hurting|harm|harming|cut|cutting) my ?self",
    )),
    ("harm_to_others", "moderate", _rx(
        r"(?:hurt|hurting|kill|killing|hit|hitting|punch|punching|strangle|stab|stabbing|shoot|shooting|beat up)"
        rf" (?:him|her|them|someone|somebody|anyone|anybody|people|my {_PEOPLE})",
        rf"(?:run|running|ran) (?:him|her|them|someone|my {_PEOPLE}) (?:over|down|off the road)",
        r"make (?:him|her|them) pay", r"(?:smash|smashing|bash|bashing|beat|beating) (?:his|her|their) (?:face|head)",
        r"(?:get|getting) (?:back at|even with) (?:him|her|them)",
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
        r"locks? me in (?:my|the|a) room", r"(?:throws?|threw|throwing) (?:things|stuff|\w+) at me",
        r"(?:he|she|they) (?:gets|got|get) (?:rough|violent|physical)",
        r"(?:won't|will not|doesn't) let me (?:see|leave|eat)",
        r"takes? my (?:pension|money|paycheck|phone)",
    )),
    ("substance_use", "light", _rx(
        r"drink(?:s|ing)?(?!\s+(?:a lot of |lots of |more |some |enough |of |a cup of |a glass of )?"
        r"(?:coffee|tea|water|juice|soda|milk|pop|energy|enough))", r"drank", r"drunk",
        r"alcohol", r"beers?", r"wine", r"vodka", r"whiske?y", r"tequila", r"liquor", r"booze",
        r"weed", r"marijuana", r"cannabis", r"smok(?:e|ed|ing) (?:pot|a joint|weed)",
    )),
    ("substance_use", "low", _rx(
        r"drunk", r"wasted", r"hungover", r"hangover", r"stoned", r"black(?:ed)? ?out",
        r"(?:get|gets|got|getting) high", r"high on", r"(?:i|we)(?:'m| am| was| were|'ve been| have been| been) "
        r"high(?! school)",
    )),
    ("substance_use", "moderate", _rx(
        r"cocaine", r"heroin", r"meth", r"methamphetamine", r"fentanyl", r"opioids?", r"oxy(?:contin|codone)?",
        r"percocet", r"vicodin", r"using (?:again|drugs|heroin|meth|cocaine|pills)",
        r"(?:started|been|keep|kept) using(?=\W*$|[.,!?]| again| every| daily| a lot| more)",
        r"relaps(?:e|ed|ing)", r"(?:popping|popped|abusing|abused) pills", r"extra (?:pills|xanax|klonopin|oxy\w*)",
        r"addict(?:ed|ion)", r"withdrawals?", r"(?:do|did|doing|snort\w*|lines? of|on) coke",
        r"(?:more|extra) (?:pills )?than (?:i'm|i am|i was|i've been|the doctor) (?:prescribed|supposed to)",
        r"(?:buy|bought|buying|get|got|getting) (?:extra|them|pills|more)(?: \w+)? (?:from|off) (?:a|some|my) ",
        r"(?:taking|take|took|using|use) (?:way |a lot |much |a bit |far )?more (?:of )?(?:my |the |those )?(?:\w+ )?"
        r"(?:pills|meds|medications?|painkillers|xanax|oxy\w*|percocets?|adderall) than (?:i should|i'm supposed|"
        r"i am supposed|prescribed|i was prescribed|the doctor)",
        r"(?:used|use|using|shot up|smoked) (?:heroin|meth|crack|cocaine|fentanyl|coke)", r"crack",
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
    "harm_to_others": _rx(*_PLAN, *_WEAPONS, r"know where (?:he|she|they) lives?", r"(?:worked|figured) (?:it )?out"),
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
    r"more than i (?:should|meant)", r"until i (?:pass|passed) out",
    r"a (?:fifth|handle|case|six[- ]pack|twelve[- ]pack)",
    r"by myself", r"alone",
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
    r"not here",
    r"not (?:be|being) (?:here|around|alive)",
    r"(?:not|never) wake up",
)
_CLAUSE_BREAK = re.compile(r"[,;:—–]|\b(?:but|and|because|although|though|however|yet|except|so)\b", re.IGNORECASE)
_OTHER_PERSON = (
    rf"(?:he|she|they|he's|she's|they're|someone|somebody|people|(?:my|his|her|their|our) {_PEOPLE}|"
    r"(?:a|the|this|that|one|another) (?:woman|man|guy|girl|boy|teen(?:ager)?|kid|person|client|patient|lady|"
    r"student|friend|neighbou?r|character|author|writer))"
)
_SUBJECT = re.compile(rf"\b(?:(i|i'm|i've|i'd|i'll|we|me|myself)|{_OTHER_PERSON})\b", re.IGNORECASE)
_FIRST_PERSON = _rx(r"i", r"me", r"my", r"myself", r"my self", r"i'm", r"i'd")
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.DOTALL)
_SECOND_PERSON = _rx(r"you", r"your", r"yourself")
_ASKING_YOU = re.compile(
    r"^\W*(?:do|does|did|have|has|are|were|would|could|can|will|any)\b(?:\s+\w+)?\s+(?:you|your|thoughts?)\b",
    re.IGNORECASE,
)
# a therapist's question whose "?" the recogniser dropped ("so have you ever thought about dying")
_QUESTION_INSIDE = _rx(r"(?:do|does|did|have|has|are|were|would|could|can|will|is|any) (?:you|that|there)")
# fmt: off
# Idioms: a cue inside one of these spans is not a flag ("I wanted to die of embarrassment", "just shoot me").
_FIGURATIVE = _rx(
    r"(?:die|died|dying|dead) (?:of|from) (?:embarrassment|shame|boredom|laughter|laughing|cuteness)",
    r"dying (?:to|for) \w+", r"(?:bored|scared|worried|tickled|freaked|stressed) (?:me )?(?:half )?to death",
    r"(?:want(?:ed)?|wish(?:ed)?) to die when", r"(?:just|please) shoot me(?: now)?", r"shoot me now",
    r"kill(?:ed|ing)? my ?self laughing", r"(?:could|would) kill for", r"killing (?:it|time)",
    r"(?:is|are|was|were|it's) killing me", r"going to kill me", r"gonna kill me", r"kill me (?:when|if)",
)
_MEANS_SPECIFIC = _rx(*_MEANS)
_PLAN_WORDS = _rx(*_PLAN, *_PREPARING)
_NON_RISK_PLAN = _rx(r"(?:safety|crisis|treatment|care|meal|birth|business|lesson|travel|game|phone) plans?")
_PLAN_DENIED = _rx(
    r"(?:no|not|never|don't|do not|haven't|have not|didn't|did not)(?: \w+){0,4} (?:a |any )?plans?",
    r"(?:wouldn't|would not|won't|will not|would never|never) (?:actually )?(?:do|act on) (?:it|anything|that)",
    r"not (?:going|gonna) to (?:do|act on) (?:it|anything)", r"no (?:intention|intent)",
    r"nothing like that", r"(?:not|never) (?:really )?(?:a plan|planned)",
)
_ACTIVE_WORDS = _rx(r"kill", r"suicid\w*", r"end(?:ing)? (?:my|it|things)", r"take my", r"overdose", r"jump\w*")

_SCREEN_TOPIC: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(
        r"kill(?:ing)? your ?self", r"end(?:ing)? (?:your|you're) (?:own )?(?:life|live|lie|light|lives)", r"suicid\w*",
        r"want(?:ed)? to die", r"better off dead", r"(?:be|being) alive", r"take your (?:own )?life",
        r"(?:about|of) (?:dying|death|not being here|not waking up|ending it|ending things)", r"\bdead\b",
        r"end (?:it|things)", r"(?:not|stop) (?:to )?exist\w*", r"disappear",
        r"not (?:be |being )?(?:here|around|alive)",
        r"not wak(?:e|ing) up", r"wish(?:ed)? (?:you|to) (?:were|was|be) dead", r"life (?:is|was) not worth",
        r"(?:about|of) (?:killing|ending) (?:themselves|your ?self|themself)",
    ),
    "self_harm": _rx(
        r"(?:hurt|hurting|harm|harming|cut|cutting|burn|burning|injure|injuring) (?:yourself|your self|themselves|"
        r"themself)",
        r"self[- ]harm\w*", r"hurt\w* (?:yourself |themselves )?on purpose",
    ),
    "harm_to_others": _rx(
        rf"(?:hurt|hurting|harm|harming|kill|killing) (?:anyone|someone|somebody|anybody|others|other people|him|her|"
        rf"them|your {_PEOPLE})",
    ),
    "abuse_neglect": _rx(
        r"(?:has|have|did|does) (?:anyone|someone|somebody|he|she|they|your \w+) (?:ever )?(?:hurt|hit|harm\w*|"
        r"touch\w*|threaten\w*) you",
        r"(?:hurt|hit|hits|hurts|harms?) you",
    ),
}
# questions where "no" is the risk ("Do you feel safe at home?")
_SCREEN_SAFE = _rx(r"(?:feel|are you|you are|you feel|being) safe (?:at home|with (?:him|her|them|your \w+)|there)")
_SCREEN_LIFE_WORTH = _rx(
    r"worth living", r"reasons? to (?:live|keep going|go on)", r"want to (?:live|keep living|be alive)"
)
_FOLLOW_UP = _rx(
    r"thoughts?", r"thinking", r"that way", r"like that", r"those", r"urges?", r"your (?:life|lie|live)",
    r"dying", r"death", r"harm\w*", r"hurt\w*", r"cut\w*",
)
# a question that points back at its lead-in ("… Has that been true for you?"), not "Is that okay with you?"
_REFERS_BACK = _rx(
    r"(?:have|did|do) you (?:ever )?(?:done|felt|had|thought|experienced|been|do|feel|think)",
    r"(?:been|is|was) (?:that|this|it) true",
    r"true for you",
    r"happened to you",
    r"thoughts? like (?:that|this|those)",
)
_SCREEN_PLAN = _rx(
    r"plan", r"how would you", r"how you would", r"a way", r"access to", r"means", r"intend\w*", r"intention",
    r"act on", r"acting on", r"tried", r"attempt\w*", r"pills", r"guns?", r"firearms?", r"weapons?",
)
_FILLER = r"(?:(?:well|um+|uh+|so|honestly|i mean|i think|i guess|to be honest|hmm+|oh|yeah|okay|ok|actually),?\s+)*"
_AFFIRM = re.compile(
    rf"^\W*{_FILLER}(?:yes|yeah|yep|yup|yea|sure|definitely|absolutely|sometimes|some days|at times|kind of|"
    r"kinda|sort of|a little|a bit|maybe|occasionally|once|twice|a couple of times|a few times|now and then|"
    r"on and off|off and on|every (?:now|so)|here and there|from time to time|more than i(?:'d| would)|"
    r"more often than|pretty much|all the time|constantly|i guess|i suppose|probably|"
    r"honestly,? yes|lately|recently|a lot|often|every day|most days|"
    r"i (?:have|do|did)(?=\W*$|[,.!]| had| thought| have| been| do| did| a little| sometimes))\b",
    re.IGNORECASE,
)
# an answer that owns the thought without "yes" ("I have thought about it", as heard: "I am thought about it")
_OWNS_IT = _rx(
    r"(?:i|i've|i'm|i'd)(?: have| am| had| do| did)?(?: been| ve| of)? (?:thought|think|thinking|considered|"
    r"considering|wondered|wonder) (?:about|of) (?:it|that|this|them|those|dying|death|suicide|doing it)",
    r"(?:it|that|the thought|the idea)(?: has| had|'s)? (?:crossed|crosses|cross) my mind",
    r"the thought(?:s)? (?:is|are) (?:there|still there)", r"i(?:'ve| have)? had (?:those|these|them|that|some) "
    r"(?:thoughts?)?", r"(?:they|those thoughts|the thoughts)(?: have| has)? (?:been )?(?:coming|come|came) back",
    r"more than i(?:'d| would) like", r"i have(?:, yes|, yeah)?$",
)
_DENY = re.compile(
    rf"^\W*{_FILLER}(?:no(?! one| matter)|nope|nah|never|not really|not at all|not that i|none|i haven['’]t|"
    r"i have not|i don['’]t(?! know)|i do not|i didn['’]t|i did not|i wouldn['’]t|i would not|i would never|"
    r"i'd never|absolutely not|definitely not|of course not)\b",
    re.IGNORECASE,
)
# fmt: on


def detect_risks(lines: Sequence[TranscriptLine]) -> tuple[RiskFlagResult, ...]:
    """Risk flags from the client's words, one per (kind, segment), in transcript order."""
    flags: list[RiskFlagResult] = []
    pending: _Question | None = None  # the screening question just asked
    topic: tuple[str, int] | None = None  # (kind, position) of the last risk talked about
    for pos, line in enumerate(lines):
        sentences = split_sentences(line.text)
        found: dict[str, RiskFlagResult] = {}
        if line.role != "therapist":
            for kind, severity, quote, detail in _cue_flags(sentences, line.text):
                _keep_worst(found, RiskFlagResult(kind, severity, quote, line.idx, detail=detail))
            if pending is not None and pending.kind not in found:
                answer = _answer_flag(sentences, line.text, pending)
                if answer is not None:
                    severity, quote, detail = answer
                    earlier = _last_raised(flags, pending.kind, pos, lines)
                    if severity == "denied" and pending.asks_plan and earlier is not None:
                        # "Do you have a plan?" — "No": the ideation stands, now known to come without a plan
                        flags[earlier] = _with_detail(flags[earlier], "denies a plan")
                    else:
                        _keep_worst(found, RiskFlagResult(pending.kind, severity, quote, line.idx, detail=detail))
            if "suicidal_ideation" in found and _endorsed(_PLAN_DENIED, line.text):
                found["suicidal_ideation"] = _with_detail(found["suicidal_ideation"], "denies a plan")
        for kind in RISK_KINDS:
            if kind in found:
                flags.append(found[kind])
                if kind in _SCREENED_KINDS:
                    topic = (kind, pos)
        if line.role != "therapist" and pending is not None and not found and not sentences:
            continue  # an empty segment keeps the question open
        pending = _screening_question(sentences, line.role, topic, pos)
        if pending is not None and pending.kind in _SCREENED_KINDS:
            topic = (pending.kind, pos)
    return tuple(flags)


def split_sentences(text: str) -> list[str]:
    """A text's sentences, verbatim (split after . ! or ? and a space)."""
    return [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def _asks_someone(sentence: str) -> bool:
    """A question put to the listener ("Have you thought about hurting yourself?")."""
    asked = sentence.rstrip().endswith("?") or _ASKING_YOU.match(sentence) is not None
    return asked and _SECOND_PERSON.search(sentence) is not None


def _cue_flags(sentences: Sequence[str], segment: str) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for sentence in sentences:
        if _asks_someone(sentence):
            continue  # asking someone else about it, not saying it
        idioms = [m.span() for m in _FIGURATIVE.finditer(sentence)]
        for kind, base, pattern in _CUES:
            for match in pattern.finditer(sentence):
                if any(a < match.end() and match.start() < b for a, b in idioms):
                    continue
                prefix = sentence[: match.start()]
                own = _FIRST_PERSON.search(match.group(0)) is not None  # "better off without me" is about the speaker
                if kind != "abuse_neglect" and not own and _about_someone_else(prefix):
                    continue
                if _negated(prefix):
                    severity, detail = "denied", ""
                else:
                    severity, detail = _severity(kind, base, sentence, segment)
                if severity == "light":
                    continue  # light or occasional use is not a flag
                found.append((kind, severity, _quote(sentence, match.start(), match.end()), detail))
    return found


def _severity(kind: str, base: str, sentence: str, segment: str) -> tuple[str, str]:
    """(severity, clinician-facing qualifier) of an endorsed cue."""
    passive = kind == "suicidal_ideation" and base == "low"
    if _PAST.search(sentence) and not _RECENT.search(sentence):
        past = "past attempt" if kind in _SCREENED_KINDS and _endorsed(_rx(*_ATTEMPT), sentence) else "in the past"
        return ("low", past) if base != "light" else ("light", "")
    if _endorsed(_HIGH_SENTENCE[kind], sentence) or _endorsed(_HIGH_SEGMENT[kind], _plain(segment)):
        return "high", _high_detail(kind, sentence, segment)
    if kind == "substance_use" and (_endorsed(_HEAVY_USE, sentence) or _many_drinks(sentence)):
        return "moderate", "heavy or frequent use"
    return base, "passive ideation" if passive else ""


def _high_detail(kind: str, sentence: str, segment: str) -> str:
    plain = _plain(segment)
    if kind in _SCREENED_KINDS:
        if _endorsed(_rx(*_ATTEMPT), plain):
            return "attempt disclosed"
        if _endorsed(_PLAN_WORDS, plain):
            return "plan disclosed"
        if kind == "suicidal_ideation" and _endorsed(_MEANS_SPECIFIC, plain):
            return "means named"
        if kind == "harm_to_others" and _endorsed(_rx(*_WEAPONS), plain):
            return "weapon named"
        return "intent or timeline"
    return ""


def _plain(text: str) -> str:
    """Text without plan words that are not about risk ("safety plan")."""
    return _NON_RISK_PLAN.sub(" ", text)


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
    return bool(subjects) and subjects[-1].group(1) is None


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
) -> _Question | None:
    """The screening question a line ends on, else None."""
    if role not in ("therapist", None):
        return None
    # a therapist's "And hurting anyone else?" is a question; an unlabelled speaker's must be put to "you"
    questions = [
        s
        for s in sentences
        if _asks_someone(s) or (role == "therapist" and (s.endswith("?") or _QUESTION_INSIDE.search(s) is not None))
    ]
    if not questions:
        return None
    last = questions[-1]
    # the topic may sit in the line's lead-in ("Some people think about suicide. Has that been true for you?")
    context = " ".join(sentences[max(0, sentences.index(last) - 2) : sentences.index(last) + 1])
    asks_plan = _SCREEN_PLAN.search(last) is not None
    if _SCREEN_SAFE.search(last):
        return _Question("abuse_neglect", False, no_is_risk=True)
    if _SCREEN_LIFE_WORTH.search(last):
        return _Question("suicidal_ideation", False, no_is_risk=True)
    for text in (last, context) if _REFERS_BACK.search(last) else (last,):
        for kind, pattern in _SCREEN_TOPIC.items():
            if pattern.search(text):
                return _Question(kind, asks_plan)
    if topic is not None and pos - topic[1] <= TOPIC_MEMORY_LINES:
        if asks_plan:
            return _Question(topic[0], True)
        if _FOLLOW_UP.search(last):  # "Do you still feel that way?", or a topic the recogniser garbled
            return _Question(topic[0], False)
    return None


def _answer_flag(sentences: Sequence[str], segment: str, question: _Question) -> tuple[str, str, str] | None:
    """(severity, quote, detail) for a reply to a screening question, or None when it neither endorses nor denies."""
    if not sentences:
        return None
    kind = question.kind
    first = sentences[0]
    opening = " ".join(sentences[:2])
    named = next((s for s in sentences if _endorsed(_HIGH_SEGMENT[kind], _plain(s))), None)
    owns = _OWNS_IT.search(opening) is not None and not _DENY.match(first)
    if question.no_is_risk:
        if _DENY.match(first):
            detail = "does not feel safe" if kind == "abuse_neglect" else "sees no reason to live"
            return "moderate", _quote(first, 0, 0), detail
        return None
    if _DENY.match(first) and not owns:
        return "denied", _quote(first, 0, 0), ""
    if owns or _AFFIRM.match(first):
        last = named or (first if _AFFIRM.match(first) else next(s for s in sentences[:2] if _OWNS_IT.search(s)))
        quote = _span(segment, first, last)
        if _PAST.search(segment) and not _RECENT.search(segment):
            return "low", quote, "in the past"
        if question.asks_plan or named:
            return "high", quote, "plan or means endorsed when asked"
        detail = "endorsed when asked"
        if kind == "suicidal_ideation" and _endorsed(_PLAN_DENIED, segment):
            active = _ACTIVE_WORDS.search(_PLAN_DENIED.sub(" ", segment)) is not None
            detail = "denies a plan" if active else "passive ideation; denies a plan"
        return "moderate", quote, detail
    return None if named is None else ("high", _quote(named, 0, 0), "plan or means named")


def _span(segment: str, first: str, last: str) -> str:
    """The segment's words from sentence ``first`` through sentence ``last``, verbatim (one sentence if too long)."""
    start = segment.find(first)
    end = segment.find(last, start) + len(last)
    span = segment[start:end]
    return span if len(span) <= MAX_QUOTE_CHARS else _quote(last, 0, 0)
