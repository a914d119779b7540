"""Clinical concepts a template section can ask for, with the cue words that fit each and the speakers they fit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from tbdesktop.engine.notes.risk_lexicon import phrases as _rx

CLIENT_FIT: Mapping[str | None, float] = {"client": 1.0, "partner": 1.0, "participant": 0.9, "other": 0.5, None: 1.0}
THERAPIST_FIT: Mapping[str | None, float] = {"therapist": 1.0, None: 0.8}
ANY_FIT: Mapping[str | None, float] = {r: 1.0 for r in ("therapist", "client", "partner", "participant", None)}
MOSTLY_CLIENT_FIT: Mapping[str | None, float] = {**CLIENT_FIT, "therapist": 0.5}
MOSTLY_THERAPIST_FIT: Mapping[str | None, float] = {**ANY_FIT, "client": 0.8, "partner": 0.8, "participant": 0.8}


@dataclass(frozen=True)
class Concept:
    name: str
    triggers: re.Pattern[str]  # words in a section's key, title (or instructions) that call for this concept
    cues: re.Pattern[str]  # words in a transcript sentence that fit it
    fit: Mapping[str | None, float]  # weight by speaker role; a role not listed weighs 0


# fmt: off
_FEELINGS = (
    r"feel\w*", "felt", r"sleep\w*", "slept", "insomnia", "tired", "exhausted", "anxious", "anxiety", r"worr\w*",
    r"stress\w*", "sad", r"depress\w*", "down", "mood", "angry", "anger", "irritable", "lonely", "hopeless",
    r"overwhelm\w*", r"panic\w*", r"cry\w*", "appetite", "energy", r"struggl\w*", "scared", "afraid", r"argu\w*",
    "fight", "fights", "nightmares?", "headaches?", "pain", "upset", r"frustrat\w*", r"guilt\w*", "ashamed",
    "numb", "worthless", r"motivat\w*", r"concentrat\w*", "lately", r"drink\w*", "alcohol", "wine", "beers?",
    r"suicid\w*", r"kill(?:ing)? myself", r"end(?:ing)? my life", r"(?:hurt|hurting|cut|cutting) myself", "want to die",
)
_OBSERVED = (
    r"scor\w*", "phq", r"phq-?9", r"gad-?7", "pcl", "bdi", "out of (?:ten|10)", "scale", "rated?", "rating",
    r"(?:you|he|she) (?:seem|look|appear)\w*", r"i notice\w*", "tearful", "eye contact", r"fidget\w*", "agitated",
    "restless", "dressed", r"minutes late", r"\d+ points",
)
CONCEPTS: tuple[Concept, ...] = (
    Concept("risk", _rx("risk", "safety", r"suicid\w*", r"self[- ]harm", "harm", r"danger\w*", "crisis", "lethality"),
             _rx("(?!)"), ANY_FIT),
    Concept("subjective", _rx("subjective", "presenting", "concerns?", "complaints?", "client report",
                               r"self[- ]report", "symptoms?", "chief", "reported", "own words", "mood"),
             _rx(*_FEELINGS), CLIENT_FIT),
    Concept("objective", _rx("objective", r"observ\w*", "mental status", "mse", "appearance", "affect", r"measur\w*",
                              "scores?", "vitals", r"orient\w*"), _rx(*_OBSERVED), MOSTLY_THERAPIST_FIT),
    Concept("assessment", _rx(r"assess\w*", "impression", "formulation", "clinical", "progress", r"diagnos\w*",
                               "interpretation", "analysis"),
             _rx("progress", "better", r"improv\w*", "worse", r"worsen\w*", "since (?:last|we)", "compared to",
                 r"pattern\w*", "sounds like", "seems like", "it seems", r"connect\w*", "linked", "related to",
                 r"realiz\w*", "insight", "helped", "helping", "working", "changes?", "cycle", r"trigger\w*"),
             MOSTLY_THERAPIST_FIT),
    Concept("plan", _rx("plan", "next steps?", "homework", r"referr\w*", r"follow[- ]?up", "next session",
                         r"recommend\w*", "tasks?", r"assign\w*"),
             _rx("(?!)"), MOSTLY_THERAPIST_FIT),  # not scored: the therapist's proposals (clinical.plan_sentences)
    Concept("data", _rx("data"), _rx(*_FEELINGS), CLIENT_FIT),
    Concept("data", _rx("data"), _rx(*_OBSERVED), MOSTLY_THERAPIST_FIT),
    Concept("behavior", _rx(r"behaviou?r\w*"),
             _rx(*_FEELINGS, r"i (?:did|went|started|stopped|tried|have been|'ve been|skipped|avoided)"), CLIENT_FIT),
    Concept("behavior", _rx(r"behaviou?r\w*"), _rx(*_OBSERVED), MOSTLY_THERAPIST_FIT),
    Concept("intervention", _rx("interventions?", "techniques?", "modality", "approach", "cbt", "dbt", "methods?",
                                 "treatment provided", "what the therapist did"),
             _rx("let's", "let us", "try", r"practi[cs]e", "exercises?", r"breath\w*", r"refram\w*", "thoughts?",
                 "evidence", "challenge", "skills?", r"mindful\w*", "grounding", r"validat\w*", "explore",
                 r"role[- ]?play", "psychoeducation", r"educat\w*", "worksheet", "cbt", "dbt", "what if",
                 "i want you to", "i'd like (?:you|us) to", "we could", "notice", r"relax\w*", "muscles?",
                 r"visuali[sz]\w*", "sleep hygiene", "routine", "cognitive", "activation", "exposure", "journal",
                 "homework", "imagine"), THERAPIST_FIT),
    Concept("response", _rx("response", r"respond\w*", "reaction", "receptive", r"engag\w*", "outcome"),
             _rx("helpful", "helped", "makes sense", "i can try", "i'll try", "i will try", "i could", "that's true",
                 "i like", "good idea", "not sure", "hard to", "worth a try", "i guess", "agree", "calmer",
                 r"relax\w*", "felt better", "willing"), CLIENT_FIT),
    Concept("goals", _rx("goals?", "aims?", "targets?", "hopes?"),
             _rx("goals?", "want to", "would like to", "i'd like to", "hope", "hoping", "work on", "achieve",
                 "get better at", r"improv\w*", "be able to"), MOSTLY_CLIENT_FIT),
    Concept("problem", _rx("problems?", "issues?", r"difficult\w*", "needs?"), _rx(*_FEELINGS), CLIENT_FIT),
    Concept("history", _rx("history", "background", "past", "childhood", "developmental"),
             _rx("used to", "when i was", "grew up", "growing up", "years ago", "childhood", r"as a (?:kid|child)",
                 "parents", "mother", "father", "mom", "dad", "in the past", "history", r"previous\w*",
                 r"divorc\w*", "school"), MOSTLY_CLIENT_FIT),
    Concept("medications", _rx("medications?", "meds", r"prescri\w*", r"pharmac\w*", "psychiatric"),
             _rx("medications?", "meds", r"prescri\w*", "doses?", "dosage", "mg", "milligrams", "sertraline", "zoloft",
                 "prozac", "fluoxetine", "lexapro", "escitalopram", "citalopram", "celexa", "wellbutrin", "bupropion",
                 "effexor", "venlafaxine", "cymbalta", "duloxetine", "xanax", "alprazolam", "lorazepam", "ativan",
                 "klonopin", "clonazepam", "trazodone", "melatonin", "adderall", "ritalin", "lithium", "lamotrigine",
                 "seroquel", "quetiapine", "abilify", "antidepressants?", "psychiatrist", "pharmacy", "refills?",
                 "side effects", "pills?"), ANY_FIT),
    Concept("substance", _rx("substances?", "alcohol", "drugs?", "drinking"),
             _rx(r"drink\w*", "drank", "drunk", "alcohol", "beers?", "wine", "vodka", "liquor", "shots", "weed",
                 "marijuana", "cannabis", "cocaine", "heroin", "meth", "opioids?", r"pills?", "high on", "sober",
                 r"smok\w*", "cigarettes?", r"vap\w*", "meds", "medications?", "caffeine", "coffee"),
             MOSTLY_CLIENT_FIT),
    Concept("strengths", _rx("strengths?", "protective", "resources", "supports?", "coping", r"resilien\w*"),
             _rx(r"support\w*", "friends?", "helped", "helps", "proud", "good at", "managed", r"cop(?:ed|ing)",
                 r"walk\w*", r"exercis\w*", "gym", "church", "faith", r"pray\w*", r"enjoy\w*", r"hobb\w*", "sister",
                 "brother", r"volunteer\w*", "music", "reading", "dog", r"garden\w*"), MOSTLY_CLIENT_FIT),
    Concept("focus", _rx("summary", "focus", "themes?", "topics?", "narrative"), _rx(*_FEELINGS), MOSTLY_CLIENT_FIT),
)
RISK_IN_INSTRUCTIONS = _rx("risk", "safety", r"suicid\w*", r"self[- ]harm")
SUGGESTION = _rx("try", r"practi[cs]e", "let's", "homework", "i'd like you", "i want you", "could you", "why don't",
                 r"suggest\w*", r"recommend\w*", "maybe you", "you could", "you might", "keep", "write")
# fmt: on
