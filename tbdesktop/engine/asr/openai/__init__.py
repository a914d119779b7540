"""Transcription through any OpenAI-compatible ``POST /v1/audio/transcriptions`` service.

The recording is cut at silences into chunks sent as 16-bit PCM WAV (16 kHz mono: 32 kB per second, so the
24 MB default allows about 12 min; the 10 min duration cap usually binds first). Several chunks are in flight
at once; their results are put back in order with timestamps re-based onto the whole recording.
"""

from __future__ import annotations

from tbdesktop.engine.asr.openai.chunks import Chunk, encode_wav, plan_chunks
from tbdesktop.engine.asr.openai.response import segments_from_response
from tbdesktop.engine.asr.openai.transcriber import OpenAITranscriber, transcriptions_url
from tbdesktop.engine.remote import parse_retry_after

__all__ = [
    "Chunk",
    "OpenAITranscriber",
    "encode_wav",
    "parse_retry_after",
    "plan_chunks",
    "segments_from_response",
    "transcriptions_url",
]
