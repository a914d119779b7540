"""The risk rules' lexicon: cue patterns per kind, severity markers, negation, questions and answers.

Read by ``risk.py`` (the method is described there and in docs/decisions/0006-local-notes.md). Patterns are
whole-word and case-blind; a ``'`` matches straight or curly apostrophes.
"""

from __future__ import annotations

import re


def phrases(*alternatives: str) -> re.Pattern[str]:
    """Whole-word, case-blind alternation; a ``'`` in a pattern matches straight or curly apostrophes."""
    body = "|".join(a.replace("'", "['’]") for a in alternatives)
    return re.compile(rf"\b(?:{body})\b", re.IGNORECASE)


_rx = phrases


PEOPLE = (
    r"(?:wife|husband|partner|boss|son|daughter|kids?|child|children|mother|mom|mum|father|dad|brother|sister|"
    r"boyfriend|girlfriend|neighbou?r|coworker|co-worker|roommate|ex|friend|uncle|aunt|cousin|stepdad|stepmom|"
    r"grandma|grandpa|grandmother|grandfather|parents|teacher)"
)

# fmt: off
# (kind, base severity, pattern) — first-person cues the client says about themself.
CUES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("suicidal_ideation", "moderate", _rx(
        r"kill(?:ing|ed)? my ?self", r"end(?:ing)? my (?:own )?life", r"end(?:ing)? it all", r"take my (?:own )?life",
        r"suicidal", r"(?:thoughts?|thinking|thought) (?:about|of) suicide", r"suicide (?:attempt|plan|note)",
        r"commit(?:ting)? suicide", r"(?:want|wanted|wanting) to die", r"(?:don't|do not) want to (?:be alive|live)",
        r"(?:hang|shoot|drown|overdose) my ?self", r"better off dead",
        r"jump(?:ing)? (?:off|from|in front of) (?:a|the) (?:bridge|building|roof|train|car)",
        r"(?:looked|looking|look|searched|searching|googled|googling) up (?:how|ways|methods)",
        r"(?:garage|closed garage) with the (?:car|engine) running", r"(?:car|engine) running in the garage",
        r"(?:just )?ending it(?! with)(?=\W*$|[.!,]| all)",
        r"(?:searched|searching|googled|googling|research\w*) (?:for )?(?:how to|ways to|methods)",
        r"how many (?:pills|tablets) (?:it would|it'd|would) (?:take|kill)",
        r"(?:think|thinking|thought|thoughts) (?:about|of) (?:jumping|stepping off|stepping in front|dying|"
        r"overdosing|ending it|ending things|"
        r"taking (?:all )?(?:my|the|those) pills)",
        r"(?:should|could|would|want to|going to|gonna) (?:just )?end (?:it|things)(?! with)",
        r"(?:use|using|used) (?:it|the gun|a gun|them|the pills) on my ?self",
        r"(?:turn|turning|turned) (?:the gun|a gun) on my ?self",
        r"(?:not|\w+n't) (?:plan|planning|going|expect\w*) (?:on |to )?(?:be|being|stay|staying) (?:here|around|alive) "
        r"(?:much |a lot |very )?(?:longer|long)",
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
        r"if i (?:was|were|wasn't|weren't)(?: not)? (?:here|around|alive|gone|dead|in the picture|"
        r"in it|in their (?:lives|life|way))",
        r"if i (?:disappeared|died|was to die|were to die|just died|just disappeared)",
        r"(?:rather|better|easier|best)(?: if i| to)?(?: just)? (?:not|never)? ?(?:be|being|was|were) (?:here|"
        r"around|alive)",
        r"(?:don't|do not|can't|cannot|no longer) see (?:the|any) point(?: in| of)?(?: anymore| any more|"
        r" living| going on| being alive| anything)",
        r"in case i(?:'m| am)? not (?:around|here)",
        r"(?:when|after|once) i(?:'m| am)? (?:gone|dead|not here|not around)",
        r"sleep forever", r"stop (?:living|breathing|being alive)",
        r"(?:disappointed|upset|sad|angry|annoyed|sorry) (?:that )?i (?:woke up|wake up|survived|"
        r"am still (?:here|alive))",
        r"wish(?:ed)? i (?:hadn't|had not|didn't|did not|wouldn't) (?:woken|wake|survived)",
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
        r"until (?:it|they|i) (?:bled|bleeds?)", r"dig\w* (?:my )?nails into (?:my )?(?:skin|arms?|hands?|legs?)",
        r"(?:punch\w*|hit|hitting|bang\w*|kick\w*) (?:a|the) wall (?:on purpose|until|so i|to feel)",
        r"(?:bite|bit|biting) (?:myself|my (?:arms?|hands?|wrists?|skin))",
        r"(?:hurt|hurting|harm|harming|cut|cutting) my ?self",
    )),
    ("harm_to_others", "moderate", _rx(
        r"(?:hurt|hurting|kill|killing|hit|hitting|punch|punching|strangle|stab|stabbing|shoot|shooting|beat up)"
        rf" (?:him|her|them|someone|somebody|anyone|anybody|people|my {PEOPLE})",
        rf"(?:pushed|shoved|slapped|kicked|choked) (?:him|her|them|my {PEOPLE})",
        rf"(?:run|running|ran) (?:him|her|them|someone|my {PEOPLE}) (?:over|down|off the road)",
        r"make (?:him|her|them) pay", r"want (?:him|her|them) dead",
        r"(?:smash|smashing|bash|bashing|beat|beating) (?:his|her|their) (?:face|head)",
        r"(?:get|getting) (?:back at|even with) (?:him|her|them)",
    )),
    ("abuse_neglect", "moderate", _rx(
        r"(?:hits|hit|beats|beat|kicks|kicked|slaps|slapped|punches|punched|chokes|choked|shoves|shoved|pushes|pushed|"
        r"grabbed|grabs|strangled|burned) (?:me|us|my (?:mom|mother|brother|sister|siblings|kids|children))"
        r"(?! (?:at|in|to)\b)",
        rf"(?:he|she|they|someone|somebody|{PEOPLE}) touched me",
        r"(?<!substance )(?<!alcohol )(?<!drug )(?<!drugs )abus(?:e|ed|ive|ing)(?! (?:pills|drugs|alcohol)\b)",
        r"molest(?:ed|ing)?", r"raped", r"(?:sexually )?assaulted me", r"(?:was|were|been|being) neglected",
        r"neglectful",
        r"neglect(?:ed|s|ing)? (?:me|us|the kids|my (?:kids|children|son|daughter))",
        r"no food (?:at home|in the house)", r"there(?:'s| is| was) no food", r"(?:home|left) alone for days",
        r"(?:nothing|not enough) to eat",
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
        r"weed", r"marijuana", r"cannabis", r"xanax", r"valium", r"klonopin", r"ativan", r"benzos?", r"adderall",
        r"smok(?:e|ed|ing) (?:pot|a joint|weed)",
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
        r"(?:taking|take|took|using) (?:way |a lot |much |far )?more than i(?:'m| am| was| should)",
        r"(?:taking|take|took|using|use) (?:way |a lot |much |a bit |far )?more (?:of )?(?:my |the |those )?(?:\w+ )?"
        r"(?:pills|meds|medications?|painkillers|xanax|oxy\w*|percocets?|adderall) than (?:i should|i'm supposed|"
        r"i am supposed|prescribed|i was prescribed|the doctor)",
        r"snort\w* (?:pills|coke|it|lines?|powder|\w+ pills)", r"pills (?:i )?(?:get|got|buy|bought) (?:from|off)",
        r"(?:xanax|valium|klonopin|ativan|benzos?|adderall|painkillers|pills|oxy\w*) (?:from|off) (?:a|my|some) "
        r"(?:friend|guy|dealer|buddy|coworker|co-worker)",
        r"(?:used|use|using|shot up|smoked) (?:heroin|meth|crack|cocaine|fentanyl|coke)", r"crack",
    )),
)

PLAN = r"(?:a|my|the) plan", r"plann(?:ed|ing) (?:it|how|to (?:do|kill|end|hurt))", r"figured out how"
INTENT = r"going to", r"gonna", r"i'll", r"i will", r"intend(?:ed)? to", r"ready to"
TIMELINE = r"tonight", r"tomorrow", r"this weekend", r"soon"
ATTEMPT = r"tried to", r"attempt(?:ed|s)?", r"overdos(?:e|ed|ing)"
MEANS = (
    r"pills", r"gun", r"firearm", r"rope", r"bridge", r"stockpil\w*",
    r"(?:saved|saving|bought|buying|hoarding|collecting) (?:up )?(?:my |some |the )?(?:pills|meds|medications?)",
)
PREPARING = (
    r"(?:goodbye|suicide) (?:notes?|letters?)", r"wrote (?:a |my )?(?:goodbye )?(?:notes?|letters?|will)",
    r"giv(?:e|ing|en) away my",
)
MEDICAL = r"stitches", r"hospital", r"emergency room", r"\ber\b", r"ambulance"
WEAPONS = r"gun", r"knife", r"weapon", r"bat"

# Raise to high: ``HIGH_SEGMENT`` anywhere in the segment, ``HIGH_SENTENCE`` only in the cue's own sentence.
HIGH_SEGMENT: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(*PLAN, *ATTEMPT, *MEANS, *PREPARING),
    "self_harm": _rx(*PLAN, *ATTEMPT, *MEDICAL),
    "harm_to_others": _rx(*PLAN, *WEAPONS, r"know where (?:he|she|they) lives?", r"how i(?:'d| would) do it",
    r"(?:worked|figured) (?:it )?out"),
    "abuse_neglect": _rx(r"threaten\w* to kill", r"chok(?:e|ed|es|ing)", r"strangl\w*", *WEAPONS, r"kill(?:ing)? me"),
    "substance_use": _rx(r"overdos(?:e|ed|ing)", r"od'd", r"(?:drove|driving|drive) (?:home )?(?:drunk|high)", r"dui"),
}
HIGH_SENTENCE: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(*INTENT, *TIMELINE),
    "self_harm": _rx(*INTENT, r"tonight", r"tomorrow"),
    "harm_to_others": _rx(*INTENT, *TIMELINE),
    "abuse_neglect": _rx(r"tonight", r"afraid for my life"),
    "substance_use": _rx(r"drunk driving"),
}
HEAVY_USE = _rx(
    r"every (?:night|day|morning|evening|weekend)", r"daily", r"each night", r"most (?:nights|days)", r"a lot",
    r"too much", r"heavily", r"heavy", r"black(?:ed)? ?out", r"(?:a|the|whole) bottle", r"bottles", r"can't stop",
    r"cannot stop", r"need (?:a drink|to drink|it)", r"in the morning",
    r"to (?:cope|get through|fall asleep|numb|forget)", r"shakes", r"dependent", r"addict\w*",
    r"more than i (?:should|meant)", r"until i (?:pass|passed) out",
    r"a (?:fifth|handle|case|six[- ]pack|twelve[- ]pack)",
    r"by myself", r"alone",
)
DRINK_COUNT = re.compile(
    r"\b(\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s+or\s+(\d+|\w+))?\s+"
    r"(?:drinks|beers|glasses|shots|cans|pints)\b",
    re.IGNORECASE,
)
NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
HEAVY_DRINK_COUNT = 4
PAST = _rx(
    r"used to", r"years ago", r"as a (?:kid|child|teen(?:ager)?)",
    r"when i was (?:a |younger|young|little|in|\d|\w+teen|twelve|eleven|ten|nine|eight|seven|six|five)",
    r"in (?:high school|college|my twenties)", r"back then", r"in the past", r"a long time ago",
    r"(?:quit|stopped) (?:drinking|using|cutting|smoking)", r"no longer",
)
# fmt: on
RECENT = _rx(r"last night", r"yesterday", r"this week", r"again", r"recently", r"this morning", r"lately", r"right now")

NEGATOR = _rx(r"no", r"not", r"never", r"none", r"nor", r"without", r"deny", r"denies", r"denied", r"\w+n't", r"cannot")
NOT_A_NEGATION = _rx(
    r"(?:can't|couldn't|cannot) (?:stop|help|sleep)",
    r"(?:don't|didn't) (?:know|care)",
    r"not sure",
    r"no matter",
    r"not only",
    r"no one",
    r"nobody",
    r"no reason to live",
    r"(?:not|isn't|wasn't|won't be) (?:\w+ )?fault",
    r"not here",
    r"not (?:be|being) (?:here|around|alive)",
    r"(?:not|never) wake up",
)
# negation does not reach into a subordinate clause ("it's not their fault when I'm gone")
CLAUSE_BREAK = re.compile(
    r"[,;:—–]|\b(?:but|and|because|although|though|however|yet|except|so|when|whenever|once|after|until|unless)\b",
    re.IGNORECASE,
)
OTHER_PERSON = (
    rf"(?:he|she|they|he's|she's|they're|someone|somebody|people|(?:my|his|her|their|our) (?:\w+ )?{PEOPLE}|"
    r"(?:a|the|this|that|one|another) (?:woman|man|guy|girl|boy|teen(?:ager)?|kid|person|client|patient|lady|"
    r"student|friend|neighbou?r|character|author|writer))"
)
# who a screening question asks about: "you", or someone else ("when your husband's not around", "I'm not here to")
SCREEN_SUBJECT = re.compile(
    rf"\b(?:(you|you're|you've|you'd|you'll|yourself)|{OTHER_PERSON}|your (?:\w+ )?{PEOPLE}|i|i'm|i've|i'd|i'll|we)\b",
    re.IGNORECASE,
)
SUBJECT = re.compile(rf"\b(?:(i|i'm|i've|i'd|i'll|we|me|myself)|{OTHER_PERSON})\b", re.IGNORECASE)
FIRST_PERSON = _rx(r"i", r"me", r"my", r"myself", r"my self", r"i'm", r"i'd")
SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.DOTALL)
SECOND_PERSON = _rx(r"you", r"your", r"yourself")
PROPOSAL = re.compile(r"^\W*(?:let['’]s|let us|we|i|if|when|in case|remember|call|here)\b", re.IGNORECASE)
ASKING_YOU = re.compile(
    r"^\W*(?:do|does|did|have|has|are|were|would|could|can|will|any)\b(?:\s+\w+)?\s+(?:you|your|thoughts?)\b",
    re.IGNORECASE,
)
# a therapist's question whose "?" the recogniser dropped ("so have you ever thought about dying")
QUESTION_INSIDE = _rx(r"(?:do|does|did|have|has|are|were|would|could|can|will|is|any) (?:you|that|there)")
# fmt: off
# Idioms: a cue inside one of these spans is not a flag ("I wanted to die of embarrassment", "just shoot me").
FIGURATIVE = _rx(
    r"(?:die|died|dying|dead) (?:of|from) (?:embarrassment|shame|boredom|laughter|laughing|cuteness)",
    r"dying (?:to|for) \w+", r"(?:bored|scared|worried|tickled|freaked|stressed) (?:me )?(?:half )?to death",
    r"(?:want(?:ed)?|wish(?:ed)?) to die when", r"(?:just|please) shoot me(?: now)?", r"shoot me now",
    r"kill(?:ed|ing)? my ?self laughing", r"(?:could|would) kill for",
    r"(?:i )?could (?:just )?(?:kill|strangle|murder|throttle) (?:him|her|them|my \w+)(?=[,.!]| but| sometimes|$)",
    r"killing my ?self (?:at (?:the gym|work)|over (?:this|that|it)|trying to|working|studying|for (?:this|that|them))",
    r"killing (?:it|time)",
    r"(?:is|are|was|were|it's) killing me", r"going to kill me", r"gonna kill me", r"kill me (?:when|if)",
    # a shoot as a noun is a photo or film session ("after every shoot people go out")
    r"(?:a|the|every|each|this|that|next|last|first|one|photo|film|video|fashion) shoots?",
    r"hurt\w* (?:his|her|their|your|my \w+'s|\w+'s) feelings",
)
MEANS_SPECIFIC = _rx(*MEANS)
ATTEMPT_WORDS = _rx(*ATTEMPT)
WEAPON_WORDS = _rx(*WEAPONS)
PLAN_WORDS = _rx(*PLAN, *PREPARING)
NON_RISK_PLAN = _rx(r"(?:safety|crisis|treatment|care|meal|birth|business|lesson|travel|game|phone) plans?")
PLAN_DENIED = _rx(
    r"(?:no|not|never|don't|do not|haven't|have not|didn't|did not)(?: \w+){0,4} (?:a |any )?plans?",
    r"(?:wouldn't|would not|won't|will not|would never|never) (?:actually )?(?:do|act on) (?:it|anything|that)",
    r"not (?:going|gonna) to (?:do|act on) (?:it|anything)", r"no (?:intention|intent)",
    r"nothing like that", r"(?:not|never) (?:really )?(?:a plan|planned)",
)
ACTIVE_WORDS = _rx(r"kill", r"suicid\w*", r"end(?:ing)? (?:my|it|things)", r"take my", r"overdose", r"jump\w*")

SCREEN_TOPIC: dict[str, re.Pattern[str]] = {
    "suicidal_ideation": _rx(
        r"kill(?:ing)? your ?self", r"(?:thoughts?|thinking|thought) (?:of|about) (?:kill\w*|dying|death|suicide)",
        r"end(?:ing)? (?:your|you're) (?:own )?(?:life|live|lie|light|lives)", r"suicid\w*",
        r"want(?:ed)? to die", r"better off dead", r"(?:be|being) alive", r"tak(?:e|ing) your (?:own )?life",
        r"(?:about|of) (?:dying|death|not being here|not waking up|ending it|ending things)", r"\bdead\b",
        r"end(?:ing)? (?:it|things)", r"(?:not|stop) (?:to )?exist\w*", r"disappear",
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
        rf"them|your {PEOPLE})",
    ),
    "abuse_neglect": _rx(
        r"(?:has|have|did|does) (?:anyone|someone|somebody|he|she|they|your \w+) (?:ever )?(?:hurt|hit|harm\w*|"
        r"touch\w*|threaten\w*) you",
        r"(?:hurt|hit|hits|hurts|harms?|hurting|hitting|harming|threatening) you",
    ),
}
# an answer to "Is anyone hurting you?" that names someone ("My husband.", "He does.")
NAMES_SOMEONE = re.compile(
    rf"^\W*(?:(?:my|his|her|our) (?:\w+ )?{PEOPLE}|(?:he|she|they) (?:does|do|did|has|have)\b)", re.IGNORECASE
)
# questions where "no" is the risk ("Do you feel safe at home?")
SCREEN_SAFE = _rx(r"(?:feel|are you|you are|you feel|being) safe (?:at home|with (?:him|her|them|your \w+)|there)")
SCREEN_LIFE_WORTH = _rx(
    r"worth living", r"reasons? to (?:live|keep going|go on)", r"want to (?:live|keep living|be alive)"
)
FOLLOW_UP = _rx(
    r"thoughts?", r"thinking", r"that way", r"like that", r"urges?", r"your (?:life|lie|live)",
    r"dying", r"death", r"harm\w*", r"hurt\w*", r"cut\w*",
)
# a question that points back at its lead-in ("… Has that been true for you?"), not "Is that okay with you?"
# ("Have you done that?", "Do you feel that way?"; not "Do you think your drinking …" nor "… that drinking …")
REFERS_BACK = _rx(
    r"(?:have|did|do) you (?:ever )?(?:done|felt|had|thought|experienced|been|do|feel|think)(?: about| of)? "
    r"(?:that|this|it|so|those|them|the same)(?=\W*$| way| too| as well| before| yourself| happen\w*| thoughts?|"
    r" feelings?| urges?| lately| recently| often| much| a lot| again| at all| for you| since)",
    r"(?:been|is|was) (?:that|this|it) true",
    r"true for you",
    r"happened to you",
    r"thoughts? like (?:that|this|those)",
)
SCREEN_PLAN = _rx(
    r"plan", r"how would you", r"how you would", r"a way", r"access to", r"means", r"intend\w*", r"intention",
    r"act on", r"acting on", r"tried", r"attempt\w*", r"pills", r"guns?", r"firearms?", r"weapons?",
)
FILLER = r"(?:(?:well|um+|uh+|so|honestly|i mean|i think|i guess|to be honest|hmm+|oh|yeah|okay|ok|actually),?\s+)*"
AFFIRM = re.compile(
    rf"^\W*{FILLER}(?:yes|yeah|yep|yup|yea|definitely|absolutely|sometimes|some days|at times|kind of|"
    r"kinda|sort of|a little|a bit|maybe|occasionally|once|twice|a couple of times|a few times|now and then|"
    r"on and off|off and on|every (?:now|so)|here and there|from time to time|more than i(?:'d| would)|"
    r"more often than|a few|a couple|quite a few|several|more than once|many times|pretty much|all the time|"
    r"constantly|i guess|i suppose|probably|"
    r"honestly,? yes|lately|recently|a lot|often|every day|most days|"
    r"i (?:have|do|did)(?=\W*$|[,.!]| had| thought| have| been| do| did| a little| sometimes| yes| yeah))\b",
    re.IGNORECASE,
)
# an answer that owns the thought without "yes" ("I have thought about it", as heard: "I am thought about it")
OWNS_IT = _rx(
    r"(?:i|i've|i'm|i'd)(?: have| am| had| do| did)?(?: been| ve| of)? (?:thought|think|thinking|considered|"
    r"considering|wondered|wonder) (?:about|of) (?:it|that|this|them|those|dying|death|suicide|doing it)",
    r"(?:it|that|the thought|the idea)(?: has| had|'s)? (?:crossed|crosses|cross) my mind",
    r"the thought(?:s)? (?:is|are) (?:there|still there)",
    r"(?:it|that|they|those thoughts|suicide)(?:'s| has| is| have| are)? (?:been )?on my mind",
    r"i(?:'ve| have)? had (?:those|these|them|that|some) "
    r"(?:thoughts?)?", r"(?:they|those thoughts|the thoughts)(?: have| has)? (?:been )?(?:coming|come|came) back",
    r"more than i(?:'d| would) like", r"i have(?:, yes|, yeah)?$",
)
DENY = re.compile(
    rf"^\W*{FILLER}(?:no(?! one| matter)|nope|nah|never|not really|not at all|not that i|none|i haven['’]t|"
    r"i have not|i don['’]t(?! know)|i do not|i didn['’]t|i did not|i wouldn['’]t|i would not|i would never|"
    r"i'd never|absolutely not|definitely not|of course not)\b",
    re.IGNORECASE,
)
# Harm caused by a thing is a worry about consequences, not intent ("it's probably hurting my kid", "hurting
# him with the smoke"): the agent before a harm-to-others cue, and what the harm comes by after it
AGENT = _rx(
    r"(i|i'm|i've|i'd|i'll|me|myself)",
    r"(?:it|that|this)(?:'s|'ll|'d| is| was| will| would| could| might| may| can| has| does| is)",
    r"smoking|drinking|what i(?:'m| am) doing",
    r"(?:my|the|your|his|her) (?:\w+ing|smoke|habit|drugs|alcohol|behaviou?r|use)",
)
BY_A_THING = re.compile(
    r"^\W*(?:by|with|because of|through|from) (?:my |the |all |your |that )?(?:second[- ]?hand )?"
    r"(?:drinking|smoking|using|smoke|cigarettes?|habit|behaviou?r|alcohol|drugs|being (?:drunk|high|away|gone))\b",
    re.IGNORECASE,
)
# Not a report of abuse: a hypothetical about anyone ("if somebody wants to beat me up, …")
HYPOTHETICAL = _rx(r"if (?:somebody|someone|anyone|anybody|people|some \w+|other kids|kids)")
# Where a misheard "suicidal" is looked for: right after feeling words ("I've been feeling so sadle again").
FEELING_WORD = re.compile(
    r"\b(?:feel|feels|feeling|felt|been|am|i'm|was|get|getting|got|become|becoming)\s+"
    r"(?:(?:really|very|pretty|kind of|sort of|a bit|a little|more|less|quite|so)\s+)?([sc][a-z']+(?:\s+[a-z']+)?)",
    re.IGNORECASE,
)
# real words with the same sound key as "suicidal" that a recogniser would write as themselves
NOT_SUICIDAL = frozenset(
    "sad still style steel stale stall stool stole settle settled subtle sale sail seal soul solid sadly sizzle "
    "sidle sits sets seats cities states stately castle saddle citadel seattle".split()
)
# fmt: on
