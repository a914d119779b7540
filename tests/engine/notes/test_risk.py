"""Risk flags from what the client says: cues, severity, denials and answers to screening questions."""

from __future__ import annotations

import pytest

from tbdesktop.engine.notes import RISK_KINDS, RISK_SEVERITIES, TranscriptLine
from tbdesktop.engine.notes.risk import MAX_QUOTE_CHARS, detect_risks

T, C = "therapist", "client"
SI, SH, HO, AB, SU = "suicidal_ideation", "self_harm", "harm_to_others", "abuse_neglect", "substance_use"

SUICIDAL_PLAN = [
    (T, "How have you been feeling since our last session?"),
    (C, "Pretty hopeless, honestly. I stopped going to work and I barely get out of bed."),
    (T, "Have you had any thoughts of killing yourself?"),
    (C, "Yes. I keep thinking about ending my life."),
    (T, "Do you have a plan for how you would do it?"),
    (C, "I have a plan. I've been saving my sleeping pills and I was going to take them all this weekend."),
    (T, "Thank you for telling me. Let's make a safety plan together right now."),
    (C, "Okay. I can call my sister and stay with her tonight."),
]
DENIAL = [
    (T, "How was your week?"),
    (C, "Better than last week. I went for walks most mornings and I've been sleeping a bit more."),
    (T, "I ask everyone this. Have you had any thoughts of killing yourself or hurting yourself?"),
    (C, "No, never. I would never kill myself, I have my kids to think about."),
    (T, "And any thoughts of hurting anyone else?"),
    (C, "No."),
    (T, "Good. For next week, keep up the morning walks and write down three things that went well each day."),
]
BENIGN = [
    (T, "What would you like to focus on today?"),
    (C, "Mostly work. My new manager keeps changing deadlines and my anxiety was high all week."),
    (T, "What do you notice in your body when that happens?"),
    (C, "My shoulders get tense and I drink a lot of coffee to keep going. I was so stressed I could barely focus."),
    (T, "Let's practise a grounding exercise. Name five things you can see right now."),
    (C, "That actually helps. I feel calmer already."),
    (T, "For homework, use the grounding exercise when you notice the tension, and we will review it next week."),
    (C, "Okay, I will try it at work. I've been using the breathing app too, and I quit smoking in high school."),
]


def lines_of(dialogue: list[tuple[str | None, str]]) -> list[TranscriptLine]:
    return [
        TranscriptLine(i, i * 6.0, i * 6.0 + 5.0, "SPEAKER_00" if role == T else "SPEAKER_01", role, text)
        for i, (role, text) in enumerate(dialogue)
    ]


def single(role: str | None, text: str) -> list[tuple[str, str, int]]:
    return [(f.kind, f.severity, f.segment_idx) for f in detect_risks(lines_of([(role, text)]))]


def test_a_stated_plan_makes_suicidal_ideation_high_with_the_clients_words() -> None:
    lines = lines_of(SUICIDAL_PLAN)
    flags = detect_risks(lines)
    assert {f.kind for f in flags} == {"suicidal_ideation"}
    assert [(f.segment_idx, f.severity) for f in flags] == [(3, "moderate"), (5, "high")]
    ideation, plan = flags
    assert ideation.quote == "I keep thinking about ending my life."
    assert plan.quote == "I have a plan."
    for flag in flags:
        assert flag.quote in lines[flag.segment_idx].text


def test_plan_in_the_same_sentence_is_high() -> None:
    text = "Yes. I have been thinking about ending my life and I have a plan to take the pills tonight."
    lines = lines_of([(T, "Have you had any thoughts of killing yourself?"), (C, text)])
    (flag,) = detect_risks(lines)
    assert (flag.kind, flag.severity, flag.segment_idx) == ("suicidal_ideation", "high", 1)
    assert "plan" in flag.quote and flag.quote in text


def test_an_explicit_denial_gives_only_denied_flags() -> None:
    flags = detect_risks(lines_of(DENIAL))
    # the question named suicide and self-harm; "No, never." denies both
    assert [(f.kind, f.severity, f.segment_idx) for f in flags] == [
        ("suicidal_ideation", "denied", 3),
        ("self_harm", "denied", 3),
        ("harm_to_others", "denied", 5),
    ]
    assert flags[0].quote == "I would never kill myself, I have my kids to think about."
    assert flags[1].quote == "No, never."
    assert flags[2].quote == "No."


def test_a_session_with_nothing_risky_has_no_flags() -> None:
    assert detect_risks(lines_of(BENIGN)) == ()


@pytest.mark.parametrize("role", [T, None])
def test_a_screening_question_alone_is_not_a_flag(role: str | None) -> None:
    asked = [(role, "Have you had any thoughts of killing yourself? Are you suicidal?")]
    assert detect_risks(lines_of(asked)) == ()
    unrelated = [*asked, (C, "I've mostly been worried about my exams, to be honest.")]
    assert detect_risks(lines_of(unrelated)) == ()


@pytest.mark.parametrize(
    ("answer", "severity"),
    [("Yes.", "moderate"), ("Sometimes, yeah.", "moderate"), ("No.", "denied"), ("Never.", "denied")],
)
def test_a_short_answer_to_a_screening_question(answer: str, severity: str) -> None:
    lines = lines_of([(T, "Have you had thoughts of hurting yourself?"), (C, answer)])
    assert [(f.kind, f.severity, f.quote, f.segment_idx) for f in detect_risks(lines)] == [
        ("self_harm", severity, answer, 1)
    ]


def test_yes_to_a_question_about_a_plan_is_high() -> None:
    lines = lines_of(
        [
            (T, "Have you had thoughts of killing yourself?"),
            (C, "Sometimes."),
            (T, "Do you have a plan?"),
            (C, "Yeah. I've been saving up my pills."),
        ]
    )
    flags = detect_risks(lines)
    assert [(f.severity, f.segment_idx) for f in flags] == [("moderate", 1), ("high", 3)]
    assert flags[1].quote == "Yeah. I've been saving up my pills."


def test_a_question_about_a_plan_without_a_risk_topic_is_not_a_flag() -> None:
    lines = lines_of([(T, "What's the plan for the weekend?"), (C, "Yes, a trip to the lake with friends.")])
    assert detect_risks(lines) == ()


@pytest.mark.parametrize(
    "text",
    [
        "I have no thoughts of hurting myself.",
        "I would never kill myself.",
        "No, I don't want to hurt myself.",
        "I would never, ever kill myself.",
        "I'm not suicidal.",
    ],
)
def test_denials_are_denied_not_risk(text: str) -> None:
    flags = single(C, text)
    assert len(flags) == 1 and flags[0][1] == "denied"


@pytest.mark.parametrize(
    ("text", "kind", "severity"),
    [
        ("Sometimes I wish I could just disappear.", "suicidal_ideation", "low"),
        ("I don't want to be alive anymore.", "suicidal_ideation", "moderate"),
        ("No one would care if I killed myself.", "suicidal_ideation", "moderate"),
        ("I'm going to kill myself tonight.", "suicidal_ideation", "high"),
        ("I tried to kill myself last month.", "suicidal_ideation", "high"),
        ("I tried to kill myself when I was fifteen.", "suicidal_ideation", "low"),
        ("I used to cut myself when I was in high school.", "self_harm", "low"),
        ("I cut myself again last night.", "self_harm", "moderate"),
        ("I burned myself on purpose and needed to go to the hospital.", "self_harm", "high"),
        ("Honestly I sometimes want to hit him.", "harm_to_others", "moderate"),
        ("I keep a knife in the car and I'm going to hurt him.", "harm_to_others", "high"),
        ("He hits me when he's drunk.", "abuse_neglect", "moderate"),
        ("He threatened to kill me last night.", "abuse_neglect", "high"),
        ("There was no food at home most weekends.", "abuse_neglect", "moderate"),
        ("I've been drinking every night, like six or seven beers.", "substance_use", "moderate"),
        ("I had four or five drinks on Saturday.", "substance_use", "moderate"),
        ("I started using cocaine again.", "substance_use", "moderate"),
        ("I don't drink.", "substance_use", "denied"),
    ],
)
def test_cues_and_severity(text: str, kind: str, severity: str) -> None:
    assert single(C, text) == [(kind, severity, 0)]


@pytest.mark.parametrize(
    "text",
    [
        "My brother was drinking again.",
        "I'm worried my son is drinking.",
        "My uncle died by suicide.",
        "I drink a lot of coffee.",
        "My anxiety was high all week.",
        "I've been using the breathing exercises.",
        "What you said really touched me.",
        "She beat me at chess.",
        "I have a glass of wine with dinner.",
    ],
)
def test_look_alikes_are_not_flags(text: str) -> None:
    assert single(C, text) == []


def test_the_therapist_saying_the_words_is_not_a_flag() -> None:
    said = "Some clients tell me they want to kill themselves, or that they drink every night."
    assert single(T, said) == []
    assert single(T, "You mentioned you would never kill yourself.") == []


def test_unlabelled_speakers_count_as_possible_clients() -> None:
    flags = detect_risks(
        lines_of([(None, "Have you had thoughts of suicide?"), (None, "Yes. I want to die most days.")])
    )
    assert [(f.kind, f.severity, f.segment_idx) for f in flags] == [("suicidal_ideation", "moderate", 1)]
    assert flags[0].quote == "I want to die most days."


def test_one_flag_per_kind_and_segment_the_most_severe_in_transcript_order() -> None:
    lines = lines_of(
        [
            (C, "I drink most nights. Sometimes I wish I were dead. I'm going to kill myself tonight."),
            (T, "Thank you for telling me."),
            (C, "I cut myself last week. I used to cut myself a lot."),
        ]
    )
    flags = detect_risks(lines)
    assert [(f.kind, f.severity, f.segment_idx) for f in flags] == [
        ("suicidal_ideation", "high", 0),
        ("substance_use", "moderate", 0),
        ("self_harm", "moderate", 2),
    ]
    assert flags[0].quote == "I'm going to kill myself tonight."
    assert all(f.kind in RISK_KINDS and f.severity in RISK_SEVERITIES for f in flags)


def test_a_long_sentence_is_quoted_verbatim_within_the_limit() -> None:
    before = "and then I went to the store and came back home and sat in the car for a very long time " * 3
    text = f"So {before}thinking that I want to kill myself because {before}nothing changes."
    (flag,) = detect_risks(lines_of([(C, text)]))
    assert len(flag.quote) <= MAX_QUOTE_CHARS
    assert "kill myself" in flag.quote and flag.quote in text


def test_curly_apostrophes_and_empty_lines() -> None:
    assert single(C, "I don’t want to be alive.") == [("suicidal_ideation", "moderate", 0)]
    assert detect_risks([]) == ()
    assert detect_risks(lines_of([(C, "   ")])) == ()


# --- speech as it is said and as it is heard ------------------------------------------------------------------------

FAILED_SESSION = [
    (T, "How have things been since last time?"),
    (C, "Sometimes I think everyone would be better off if I was not here."),
    (T, "Have you had any thoughts of ending your life?"),
    (C, "I have thought about it, but I do not have a plan."),
    (T, "Okay. Let's work on a safety plan together."),
    (C, "Okay."),
]


def heard(dialogue: list[tuple[str | None, str]], swaps: dict[str, str]) -> list[tuple[str | None, str]]:
    """The dialogue as a recogniser might return it: words swapped, punctuation lost."""
    out = []
    for role, text in dialogue:
        for said, got in swaps.items():
            text = text.replace(said, got)
        out.append((role, text))
    return out


@pytest.mark.parametrize(
    "swaps",
    [
        {},
        {"better off": "mad or off", "I have thought": "I am thought"},
        {"better off": "bet her off", "I have thought": "I thought", "?": "", ".": ""},
        {"everyone would be better off if I was not here": "everyone would be better if I was not here"},
        {"I have thought about it": "I've thought about it", "ending your life": "ending your lie"},
        {"Have you had any thoughts of ending your life?": "Heavy had thoughts of ending your life."},
    ],
)
def test_passive_ideation_with_a_denied_plan_is_flagged_even_misheard(swaps: dict[str, str]) -> None:
    lines = lines_of(heard(FAILED_SESSION, swaps))
    flags = [f for f in detect_risks(lines) if f.kind == "suicidal_ideation"]
    assert flags and all(f.severity in ("low", "moderate") for f in flags)
    answer = [f for f in flags if f.segment_idx == 3]
    assert answer and answer[0].detail == "passive ideation; denies a plan"
    for flag in flags:
        assert flag.quote in lines[flag.segment_idx].text and flag.source == "rules"


@pytest.mark.parametrize(
    "answer",
    [
        "I have thought about it.",
        "I am thought about it.",
        "Kind of, yeah.",
        "At times.",
        "Sometimes.",
        "More than I'd like, honestly.",
        "I guess so.",
        "Maybe a little.",
        "Um, yeah, now and then.",
        "It has crossed my mind.",
        "Well, I've had those thoughts.",
    ],
)
def test_endorsements_that_are_not_yes(answer: str) -> None:
    lines = lines_of([(T, "Do you ever think about killing yourself?"), (C, answer)])
    assert [(f.kind, f.severity) for f in detect_risks(lines)] == [("suicidal_ideation", "moderate")]


@pytest.mark.parametrize(
    "text",
    [
        "Honestly, they would all be better off without me.",
        "Some nights I just want to go to sleep and not wake up.",
        "I keep thinking it would be easier if I wasn't around.",
        "What's the point of going on like this.",
        "I'd like to just disappear.",
        "There's no reason to live anymore.",
        "I don't see any reason to keep going.",
        "My kids would be fine if I were gone.",
        "I wish I'd never been born.",
        "I'm so tired of living.",
        "Everyone would be bet her off if I was not here",
        "they'd be better off with out me",
    ],
)
def test_ideation_phrased_as_absence(text: str) -> None:
    flags = single(C, text)
    assert [(k, s) for k, s, _ in flags] == [("suicidal_ideation", "low")]
    (flag,) = detect_risks(lines_of([(C, text)]))
    assert flag.detail.startswith("passive ideation")


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("have you had thoughts of killing yourself", "yeah I have"),
        ("Have you had thoughts of suicide", "sometimes yeah"),
        ("So have you been thinking about ending your life?", "I am thought about it, yes."),
        ("Have you had any thoughts of hurting your self?", "Kind of."),
    ],
)
def test_answers_to_a_question_heard_without_punctuation(question: str, answer: str) -> None:
    flags = detect_risks(lines_of([(T, question), (C, answer)]))
    assert len(flags) == 1 and flags[0].severity == "moderate" and flags[0].segment_idx == 1


def test_a_denied_plan_after_endorsed_ideation_qualifies_the_flag_instead_of_denying() -> None:
    lines = lines_of(
        [
            (T, "Have you had thoughts that you'd be better off dead?"),
            (C, "Sometimes, yeah."),
            (T, "Have you thought about how you would do it?"),
            (C, "No. Nothing like that."),
        ]
    )
    (flag,) = detect_risks(lines)
    assert (flag.kind, flag.severity, flag.segment_idx) == ("suicidal_ideation", "moderate", 1)
    assert flag.detail.endswith("denies a plan")


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("I have a plan to end my life on Sunday.", "plan disclosed"),
        ("I tried to kill myself two weeks ago.", "attempt disclosed"),
        ("I tried to kill myself years ago.", "past attempt"),
    ],
)
def test_details_for_the_clinician(text: str, detail: str) -> None:
    (flag,) = detect_risks(lines_of([(C, text)]))
    assert flag.kind == "suicidal_ideation" and flag.detail == detail


@pytest.mark.parametrize(
    "text",
    [
        "This traffic is killing me.",
        "I could kill for a coffee.",
        "I'm dying to see it.",
        "I've been killing it at work.",
        "My feet are killing me.",
        "I nearly died of embarrassment.",
        "That meeting bored me to death.",
        "My brother wants to kill himself.",
        "My friend said she wished she was dead.",
        "My mom drinks every night.",
        "My cousin is cutting herself.",
        "I'm not going to kill myself.",
        "I don't ever want to hurt myself.",
        "I've never thought about suicide.",
        "I had one beer at the game.",
        "I barely drink these days.",
        "We talked about suicide prevention at work.",
        "I cut back on sugar.",
        "I cut my finger making dinner.",
    ],
)
def test_controls_raise_nothing(text: str) -> None:
    assert [s for _, s, _ in single(C, text) if s != "denied"] == []


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Any thoughts of suicide lately?", "No, not at all."),
        ("Have you thought about hurting yourself?", "Nope, never."),
        ("How many drinks did you have on Saturday?", "Just one, honestly."),
        ("Would you say you're drinking more than you'd like?", "Not really."),
        ("Do you ever think about hurting anyone?", "Honestly, no."),
    ],
)
def test_a_screening_question_answered_no_raises_nothing(question: str, answer: str) -> None:
    flags = detect_risks(lines_of([(T, question), (C, answer)]))
    assert all(f.severity == "denied" for f in flags)


def test_the_therapists_question_about_drinking_is_not_the_clients_flag() -> None:
    assert detect_risks(lines_of([(T, "How many drinks you had, like five or six every night?")])) == ()
    lines = lines_of([(T, "How many drinks you had last night?"), (C, "Eight or nine. I blacked out.")])
    assert [(f.kind, f.severity, f.segment_idx) for f in detect_risks(lines)] == [("substance_use", "moderate", 1)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I've been taking way more of my pain pills than I should.", "substance_use"),
        ("I get wasted most weekends.", "substance_use"),
        ("I've been scratching my arms till they bleed.", "self_harm"),
        ("She shoves me into the wall when she's angry.", "abuse_neglect"),
        ("I've thought about running him over with my car.", "harm_to_others"),
    ],
)
def test_paraphrases_of_other_kinds(text: str, kind: str) -> None:
    assert [k for k, s, _ in single(C, text) if s != "denied"] == [kind]


def test_feeling_unsafe_at_home_is_flagged_when_asked() -> None:
    lines = lines_of([(T, "Do you feel safe at home?"), (C, "Not really.")])
    assert [(f.kind, f.severity) for f in detect_risks(lines)] == [("abuse_neglect", "moderate")]
    lines = lines_of([(T, "Do you feel safe at home?"), (C, "Yes, totally.")])
    assert detect_risks(lines) == ()


@pytest.mark.parametrize(
    ("question", "answer", "kind"),
    [
        ("How are you coping?", "I keep picturing my funeral and thinking it would be a relief.", "suicidal_ideation"),
        ("How's your mood?", "I'm just a burden and the world would be better without me.", "suicidal_ideation"),
        ("Do you ever wish you could just not exist?", "Pretty much every day.", "suicidal_ideation"),
        ("Do you feel like life is worth living?", "Honestly, no. Not lately.", "suicidal_ideation"),
        ("Have you thought about suicide?", "On and off, for a few months now.", "suicidal_ideation"),
        ("How was the weekend?", "I drank a fifth of vodka on Saturday alone.", "substance_use"),
        ("What do you do when you're overwhelmed?", "I bite my arms until they bruise.", "self_harm"),
        ("How is it with your husband?", "He choked me last week until I almost passed out.", "abuse_neglect"),
        (
            "And when you're angry at him?",
            "I think about smashing his face in. I've got it worked out.",
            "harm_to_others",
        ),
    ],
)
def test_more_ways_of_saying_it(question: str, answer: str, kind: str) -> None:
    flags = detect_risks(lines_of([(T, question), (C, answer)]))
    assert [f.kind for f in flags if f.severity != "denied"] == [kind]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Part of my job is to ask about suicide at every visit. Is that okay with you?", "Sure, that makes sense."),
        ("How's the new job?", "It's a killer schedule but I love it."),
        ("How are you sleeping?", "I sleep like the dead these days, it's great."),
        ("How did your exam go?", "I bombed it, I'm dead meat when my dad finds out."),
        ("How's your son?", "He's been getting into fights and he hit another kid."),
        ("Do you feel safe at home?", "Yes, totally."),
        ("Let's add a number to call in case thoughts of suicide come back.", "Sure."),
    ],
)
def test_more_look_alikes(question: str, answer: str) -> None:
    assert [f for f in detect_risks(lines_of([(T, question), (C, answer)])) if f.severity != "denied"] == []


@pytest.mark.parametrize(
    ("question", "answer", "kind"),
    [
        ("How have you been sleeping?", "Some mornings I'm disappointed I woke up at all.", "suicidal_ideation"),
        ("Any thoughts of hurting yourself or ending things", "yeah kind of lately", "suicidal_ideation"),
        ("What did you do after the call?", "I looked up how many pills it would take.", "suicidal_ideation"),
        ("You seem far away today.", "I've been thinking it'd be easier to just not be alive.", "suicidal_ideation"),
        ("Do you have thoughts of suicide", "um I have yes sometimes", "suicidal_ideation"),
        ("What happened to your hand?", "I punched a wall on purpose so I'd feel something.", "self_harm"),
        ("What's home like?", "My dad hits us when he's been drinking.", "abuse_neglect"),
    ],
)
def test_said_another_way(question: str, answer: str, kind: str) -> None:
    flags = detect_risks(lines_of([(T, question), (C, answer)]))
    assert kind in {f.kind for f in flags if f.severity != "denied"}


@pytest.mark.parametrize(
    "answer",
    [
        "My boss is driving me crazy, I could strangle him, but it's fine.",
        "I'm killing myself at the gym but the diet is hard.",
        "She tried to kill herself last year but she's doing better now.",
        "I'm a nurse in the ER, so I see a lot of overdoses.",
    ],
)
def test_said_but_not_meant(answer: str) -> None:
    flags = detect_risks(lines_of([(T, "How are things?"), (C, answer)]))
    assert [f for f in flags if f.severity != "denied"] == []


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How was the week?", "Rough. I keep thinking my family would have an easier life if I wasn't in it."),
        ("Have there been times you thought about ending your life?", "A few, yeah. Mostly after the divorce."),
        ("How are you holding up?", "I don't see the point anymore. Of anything. Of being alive."),
        ("Do you ever think about suicide?", "It's been on my mind, not gonna lie."),
        ("Is there anything you haven't told me?", "I wrote letters to my kids, in case I'm not around."),
        ("How was the weekend?", "I sat in the garage with the car running for a while."),
        ("What do you think about when it's bad?", "Just ending it. Making it all stop."),
    ],
)
def test_ideation_in_yet_other_words(question: str, answer: str) -> None:
    flags = detect_risks(lines_of([(T, question), (C, answer)]))
    assert "suicidal_ideation" in {f.kind for f in flags if f.severity != "denied"}


@pytest.mark.parametrize(
    "text",
    ["I've been feeling really suicide all week.", "I get so sidal at night.", "I was feeling sue sidal again."],
)
def test_suicidal_as_misheard_after_a_feeling_word(text: str) -> None:
    (flag,) = detect_risks(lines_of([(C, text)]))
    assert (flag.kind, flag.severity) == ("suicidal_ideation", "moderate")
    assert "unclear" in flag.detail and flag.quote == text


@pytest.mark.parametrize(
    "text",
    [
        "I've been feeling so sad all week.",
        "I'm feeling still and calm.",
        "I was so settled there.",
        "I've been saddle sore since the ride.",
        "My brother has been feeling so sidal.",
    ],
)
def test_words_that_merely_sound_alike_are_not_flags(text: str) -> None:
    assert single(C, text) == []


@pytest.mark.parametrize(
    ("question", "answer", "kind"),
    [
        ("Have you had thoughts of taking your own life?", "Off and on. It's like a background noise.", SI),
        ("How do you see the future?", "I don't. I don't plan on being here much longer.", SI),
        ("What would you tell your best friend?", "That I'm sorry, and that it's not their fault when I'm gone.", SI),
        ("What were you doing on the roof?", "Thinking about stepping off. I stood there a long time.", SI),
        ("How have things been?", "I want to go to sleep forever, honestly.", SI),
        ("What's on your mind?", "Sometimes I think it would be a relief to just stop living.", SI),
        ("What do you do with the anger?", "I turn it on myself. I dig my nails into my skin until it bleeds.", SH),
        ("How do you feel about your ex now?", "I want him dead. I've thought about how I'd do it.", HO),
        ("Is anyone hurting you?", "My husband. He hurts me when I don't do what he says.", AB),
        ("Anything else going on?", "I've been snorting pills I get from a friend.", SU),
    ],
)
def test_and_in_still_other_words(question: str, answer: str, kind: str) -> None:
    flags = detect_risks(lines_of([(T, question), (C, answer)]))
    assert {f.kind for f in flags if f.severity != "denied"} == {kind}


def test_a_garbled_question_about_killing_and_a_hedged_answer() -> None:
    lines = lines_of(
        [(T, "Have you had any thoughts of killings we last met?"), (C, "At times, mostly late at night.")]
    )
    assert [(f.kind, f.severity) for f in detect_risks(lines)] == [(SI, "moderate")]


def test_misheard_medication_overuse_and_someone_elses_cutting() -> None:
    assert [k for k, s, _ in single(C, "Yeah, I've been taking more than I am present.")] == [SU]
    assert single(C, "My best friend has been cutting yourself, and I don't know how to help.") == []


# Real counselling talk that the rules once read as risk (paraphrased from motivational-interviewing sessions).
@pytest.mark.parametrize(
    "dialogue",
    [
        # an information-giving turn that mentions teens hurting themselves, then a question on another topic
        [
            (
                T,
                "Let me share some facts. Young people who drink are more likely to get hurt, and some hurt "
                "themselves by accident. Do you think your drinking has anything to do with the risk of an infection?",
            ),
            (C, "Yeah, I'd had a few drinks the last time I slept with someone."),
            (T, "It seems like alcohol changes how you decide things in those moments?"),
            (C, "Yes. I'd have said no if I hadn't been drinking."),
        ],
        # "not around" about a third person is no question about the client's absence
        [
            (T, "So things get harder when your wife's not around?"),
            (C, "Maybe. I think about it more when she's not there."),
        ],
        [(T, "Does it get worse when your kids are not here?"), (C, "Yes, a bit.")],
        # a statement is heard as a question without its "?" only when short, in a short turn, and not denying it
        [
            (T, "Alcohol can really harm you at your age. Your brain is still growing. Here is a leaflet on it."),
            (C, "Yeah."),
        ],
        [(T, "So you didn't hurt anybody."), (C, "Yeah.")],
        [(T, "And I'm certainly not here to lecture you"), (C, "Yeah, I know.")],
        # a shoot is a photo or film session
        [(T, "How did the day end?"), (C, "After every shoot people go out for a drink, so I went along.")],
        [(T, "What's the work like?"), (C, "At the photo shoot people kept asking me to smile.")],
        # worry that one's habit is harming someone is not intent to harm them
        [(T, "What is your gut telling you?"), (C, "That it's probably hurting my son, and I'll regret it later.")],
        [
            (T, "What do you make of that?"),
            (C, "I never thought it would have anything to do with him getting sick or, you know, hurting him."),
        ],
        [(T, "What worries you?"), (C, "That I'm hurting my daughter with the smoke.")],
        [(T, "How are things with your sister?"), (C, "I keep hurting her feelings without meaning to.")],
        # a hypothetical about anyone, and a dare the client quotes, report no abuse
        [
            (T, "Can you give me an example?"),
            (C, 'If someone says they want to beat me up, I say, "Fine, then hit me," and I just stay there.'),
        ],
    ],
)
def test_real_talk_that_is_not_risk(dialogue: list[tuple[str, str]]) -> None:
    assert [f for f in detect_risks(lines_of(dialogue)) if f.severity != "denied" and f.kind != SU] == []


@pytest.mark.parametrize(
    ("dialogue", "kind"),
    [
        # the guards above keep the client's own acts and the screening question's own lead-in
        ([(T, "How are things at home?"), (C, "It makes me want to hit him.")], HO),
        ([(T, "How are things at home?"), (C, "I think about it and I want to hurt him.")], HO),
        ([(T, "What happened after that?"), (C, "He yelled at me and then hit me.")], AB),
        ([(T, "What happened?"), (C, "If he's been drinking, he hits me.")], AB),
        ([(T, "What would you do?"), (C, "I'd shoot him if I had the chance.")], HO),
        ([(T, "Some people in your place think about suicide. Have you felt that way?"), (C, "Yes.")], SI),
        ([(T, "Sometimes people hurt themselves on purpose. Have you done that?"), (C, "A few times.")], SH),
        ([(T, "Do you ever feel they'd be better off if you were not around?"), (C, "Sometimes.")], SI),
        (
            [
                (T, "Have you had thoughts of ending your life?"),
                (C, "Yes."),
                (T, "Do you still feel that way?"),
                (C, "Yeah, some nights."),
            ],
            SI,
        ),
    ],
)
def test_the_real_talk_guards_keep_real_risk(dialogue: list[tuple[str, str]], kind: str) -> None:
    assert kind in {f.kind for f in detect_risks(lines_of(dialogue)) if f.severity != "denied"}
