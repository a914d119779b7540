"""Reading verbose_json (or bare text) answers into segments on the whole recording's clock."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tbdesktop.engine.asr import DEFAULT_SPEAKER
from tbdesktop.engine.asr.openai.chunks import Chunk
from tbdesktop.engine.types import Segment, Word


@dataclass
class _Span:
    start: float
    end: float
    text: str
    probability: float  # for words that carry none: exp(avg_logprob) of their segment, else 1
    words: list[tuple[float, float, str, float | None]] = field(default_factory=list)


def segments_from_response(body: Mapping[str, Any], chunk: Chunk) -> list[Segment]:
    """verbose_json (words top-level or per segment, or none) or bare ``text`` → segments on the recording's clock."""
    spans: list[_Span] = []
    raw_segments = body.get("segments")
    if isinstance(raw_segments, list) and raw_segments:
        for raw in raw_segments:
            if isinstance(raw, Mapping):
                logprob = number(raw.get("avg_logprob"), 0.0)
                start = number(raw.get("start"), 0.0)
                end = number(raw.get("end"), chunk.duration_s)
                text = raw.get("text")
                spans.append(_Span(start, end, text if isinstance(text, str) else "", math.exp(min(logprob, 0.0))))
                spans[-1].words.extend(_words(raw.get("words")))
        spans.sort(key=lambda span: span.start)
    elif isinstance(body.get("text"), str):
        spans.append(_Span(0.0, chunk.duration_s, str(body["text"]), 1.0))
    top_words = _words(body.get("words"))
    if top_words and spans and not any(span.words for span in spans):
        _assign_words(spans, top_words)
    return [segment for span in spans if (segment := _rebase(span, chunk)) is not None]


def _rebase(span: _Span, chunk: Chunk) -> Segment | None:
    """Move a span onto the recording's clock, inside its chunk, with its words inside it."""
    text = span.text.strip()
    if not text:
        return None
    chunk_end = chunk.start_s + chunk.duration_s
    start = clamp(chunk.start_s + span.start, chunk.start_s, chunk_end)
    end = clamp(chunk.start_s + span.end, start, chunk_end)
    words: list[Word] = []
    previous = start
    for w_start, w_end, word, probability in sorted(span.words, key=lambda w: w[0]):
        w_start = clamp(chunk.start_s + w_start, previous, end)
        w_end = clamp(chunk.start_s + w_end, w_start, end)
        p = span.probability if probability is None else clamp(probability, 0.0, 1.0)
        words.append(Word(start=w_start, end=w_end, word=word, probability=p))
        previous = w_start
    return Segment(start=start, end=end, text=text, speaker=DEFAULT_SPEAKER, words=tuple(words))


def _words(raw: Any) -> list[tuple[float, float, str, float | None]]:
    words: list[tuple[float, float, str, float | None]] = []
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("word"), str):
            start = number(item.get("start"), 0.0)
            probability = item.get("probability")
            known = None if probability is None else number(probability, 1.0)
            words.append((start, number(item.get("end"), start), str(item["word"]), known))
    return words


def _assign_words(spans: list[_Span], words: list[tuple[float, float, str, float | None]]) -> None:
    """Give each top-level word to the segment it falls in; a word between two goes to the nearer one."""
    j = 0
    for word in sorted(words, key=lambda w: w[0]):
        middle = (word[0] + word[1]) / 2
        while j < len(spans) - 1 and middle >= (spans[j].end + spans[j + 1].start) / 2:
            j += 1
        spans[j].words.append(word)


def language_code(value: Any) -> str | None:
    """OpenAI reports ``english``, Whisper servers ``en``; the engine speaks ISO 639-1 codes."""
    if not isinstance(value, str) or not value.strip():
        return None
    name = value.strip().lower()
    return _LANGUAGE_CODES.get(name, name)


def number(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))


# Whisper's language names, as OpenAI's verbose_json reports them.
_LANGUAGE_CODES = {
    name: code
    for code, name in (
        entry.split(":")
        for entry in (
            "en:english zh:chinese de:german es:spanish ru:russian ko:korean fr:french ja:japanese pt:portuguese "
            "tr:turkish pl:polish ca:catalan nl:dutch ar:arabic sv:swedish it:italian id:indonesian hi:hindi "
            "fi:finnish vi:vietnamese he:hebrew uk:ukrainian el:greek ms:malay cs:czech ro:romanian da:danish "
            "hu:hungarian ta:tamil no:norwegian th:thai ur:urdu hr:croatian bg:bulgarian lt:lithuanian la:latin "
            "mi:maori ml:malayalam cy:welsh sk:slovak te:telugu fa:persian lv:latvian bn:bengali sr:serbian "
            "az:azerbaijani sl:slovenian kn:kannada et:estonian mk:macedonian br:breton eu:basque is:icelandic "
            "hy:armenian ne:nepali mn:mongolian bs:bosnian kk:kazakh sq:albanian sw:swahili gl:galician mr:marathi "
            "pa:punjabi si:sinhala km:khmer sn:shona yo:yoruba so:somali af:afrikaans oc:occitan ka:georgian "
            "be:belarusian tg:tajik sd:sindhi gu:gujarati am:amharic yi:yiddish lo:lao uz:uzbek fo:faroese "
            "ht:haitian ps:pashto tk:turkmen nn:nynorsk mt:maltese sa:sanskrit lb:luxembourgish my:myanmar "
            "bo:tibetan tl:tagalog mg:malagasy as:assamese tt:tatar haw:hawaiian ln:lingala ha:hausa ba:bashkir "
            "jw:javanese su:sundanese yue:cantonese"
        ).split()
    )
}
_LANGUAGE_CODES.update({"haitian creole": "ht", "burmese": "my", "valencian": "ca", "castilian": "es"})
