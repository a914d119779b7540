"""`record`: a session from a microphone, headless (the recorder panel uses the same service), its devices, and
the recordings a crash left behind."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from types import FrameType
from typing import TYPE_CHECKING

from tbdesktop.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    echo,
    echo_err,
    emit,
    emit_list,
    fmt_ts,
    session_line,
    signed_in,
    wait_for_session,
)
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.dto import SessionInfo, UserInfo
    from tbdesktop.services.recording import (
        DeviceProblem,
        InterruptedRecording,
        LevelReading,
        Recorder,
        RecorderObserver,
    )
    from tbdesktop.services.recording.devices import InputDevice
    from tbdesktop.services.recording.events import RecorderStatus


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a recording the way Ctrl+C does: cleanly, keeping the audio. SIGINT is handled here too, even
    where the process was started with it ignored (a background job of a shell, a service manager): a recording
    is always stoppable by its signal, never left running."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous: dict[signal.Signals, signal._HANDLER] = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        for signum, old in previous.items():
            signal.signal(signum, old)
        yield
        return
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@dataclass
class LevelProgress:
    """The latest reading and the device problems so far, for the progress line (printed by the main thread)."""

    reading: LevelReading | None = None
    problems: list[DeviceProblem] = field(default_factory=list)


def _progress_observer(progress: LevelProgress) -> RecorderObserver:
    # the recording service loads the audio library and SQLAlchemy: imported when a recording starts
    from tbdesktop.services.recording import RecorderObserver

    class Progress(RecorderObserver):
        """Keeps what the recorder reports in ``progress``."""

        def level(self, reading: LevelReading) -> None:
            progress.reading = reading

        def device_error(self, problem: DeviceProblem) -> None:
            progress.problems.append(problem)

    return Progress()


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise TBError(f"'{text}' is not a date (use YYYY-MM-DD).") from exc


def cmd_record(args: argparse.Namespace) -> int:
    from tbdesktop.services.recording import NothingRecordedError, RecordingParams, RecordingService

    if args.seconds is not None and args.seconds <= 0:
        raise TBError("--seconds must be more than 0.")
    params = RecordingParams(
        device=args.device,
        client_name=args.client,
        session_date=_date(args.date),
        session_type=args.type,
        consent_method=args.consent,
        sample_rate=args.sample_rate,
        channels=args.channels,
        stop_after_s=args.seconds,
    )
    with signed_in(args) as (ctx, user):
        progress = LevelProgress()
        recorder = RecordingService(ctx, user).recorder(params, _progress_observer(progress))
        status, interrupted = _capture(args, recorder, progress)
        problem = status.problem if status.problem is not None and status.problem.kind != "overflow" else None
        try:
            info = recorder.save_sync()
        except NothingRecordedError:
            raise
        except TBError as exc:
            raise TBError(
                f"{exc.message} The audio is kept: `tbdesktop record recover` saves it once this is solved."
            ) from exc
        return _finish(args, ctx, user, info, status, interrupted, problem)


def _capture(args: argparse.Namespace, recorder: Recorder, progress: LevelProgress) -> tuple[RecorderStatus, bool]:
    """Records until the time is up, the device is lost, or Ctrl+C (or SIGTERM); then stops."""
    from tbdesktop.services.recording import RecorderState

    quiet = bool(getattr(args, "json", False))
    tty = sys.stderr.isatty()
    interrupted = False
    shown = 0
    last_second = -1
    with _terminate_as_interrupt():
        try:
            status = recorder.start()
            if not quiet:
                until = f"for {args.seconds:g} s" if args.seconds else "until Ctrl+C"
                echo_err(
                    f"Recording from '{status.device}' ({status.sample_rate} Hz, {status.channels} channel(s)) "
                    f"{until}; Ctrl+C stops and keeps the audio."
                )
            while recorder.state in (RecorderState.RECORDING, RecorderState.PAUSED):
                time.sleep(0.1)
                problems = list(progress.problems)
                for problem in problems[shown:]:
                    if not quiet and problem.kind == "overflow":
                        echo_err(f"warning: {problem.message}")
                shown = len(problems)
                reading = progress.reading
                if quiet or reading is None:
                    continue
                line = (
                    f"{fmt_ts(reading.elapsed_s)}  level {reading.rms_dbfs:6.1f} dBFS  "
                    f"peak {reading.peak_dbfs:6.1f} dBFS"
                )
                if tty:
                    sys.stderr.write("\r" + line)
                    sys.stderr.flush()
                elif int(reading.elapsed_s) != last_second:
                    last_second = int(reading.elapsed_s)
                    echo_err(line)
        except KeyboardInterrupt:
            if recorder.state is RecorderState.IDLE:
                raise TBError("Interrupted before the recording started; nothing was recorded.") from None
            interrupted = True
    status = recorder.stop()
    if tty and not quiet:
        sys.stderr.write("\n")
    return status, interrupted


def _finish(
    args: argparse.Namespace,
    ctx: AppContext,
    user: UserInfo,
    info: SessionInfo,
    status: RecorderStatus,
    interrupted: bool,
    lost: DeviceProblem | None,
) -> int:
    from tbdesktop.services.session_lifecycle import AWAITING_CONSENT

    quiet = bool(getattr(args, "json", False))
    recording = {
        "duration_s": round(status.elapsed_s, 3),
        "device": status.device,
        "sample_rate": status.sample_rate,
        "channels": status.channels,
        "overflows": status.overflows,
        "gap_s": round(status.gap_s, 3),
        "interrupted": interrupted,
        "problem": lost.kind if lost is not None else None,
    }
    if not quiet:
        echo(f"Recorded {fmt_ts(status.elapsed_s)} ({status.elapsed_s:.1f} s); saved as session {info.id}")
        echo(session_line(info))
    if lost is not None:
        echo_err(f"error: {lost.message}")
    code = EXIT_ERROR if lost is not None and lost.kind != "limit" else EXIT_OK
    if args.wait:
        if info.stage_detail == AWAITING_CONSENT:
            echo_err(
                "error: the session waits for the client's consent; record it with "
                f"`tbdesktop session update {info.id} --consent METHOD`, or record with --consent."
            )
            code = EXIT_ERROR
        else:
            from tbdesktop.services.sessions import SessionService

            final = wait_for_session(ctx, user, info.id, quiet=quiet)
            info = SessionService(ctx, user).get_sync(info.id)
            if not quiet:
                echo(session_line(info))
            if final.status != "completed":
                code = EXIT_ERROR
    if quiet:
        data = info.to_json()
        data["recording"] = recording
        echo(json.dumps(data, indent=2, ensure_ascii=False))
    return code


def _device_line(d: InputDevice) -> str:
    mark = "*" if d.is_default else " "
    return f"{mark} {d.index:>3}  {d.name}  ({d.channels} in, {d.default_samplerate} Hz, {d.hostapi})"


def cmd_record_devices(args: argparse.Namespace) -> int:
    from tbdesktop.services.recording import SoundDeviceBackend
    from tbdesktop.services.recording.devices import list_inputs

    devices = list_inputs(SoundDeviceBackend())
    emit_list(args, devices, _device_line, empty="No input device found.")
    return EXIT_OK


def _interrupted_line(r: InterruptedRecording) -> str:
    client = r.client_name or "no client"
    return f"{r.id}  started {r.started_at:%Y-%m-%d %H:%M} UTC  {fmt_ts(r.duration_s)}  {client}"


def cmd_record_recover(args: argparse.Namespace) -> int:
    from tbdesktop.services.recording import RecordingService

    with signed_in(args) as (ctx, user):
        service = RecordingService(ctx, user)
        if args.discard:
            if not args.yes:
                raise TBError("Discarding deletes the interrupted recording for good; add --yes to confirm.")
            service.discard_sync(args.discard)
            emit(args, {"discarded": args.discard}, lambda: echo("Interrupted recording discarded."))
            return EXIT_OK
        found = service.find_interrupted_sync()
        if args.list:
            emit_list(args, found, _interrupted_line, empty="No interrupted recording.")
            return EXIT_OK
        wanted = [r for r in found if args.id in (None, r.id)]
        if args.id and not wanted:
            raise TBError(f"No interrupted recording '{args.id}' (see `tbdesktop record recover --list`).")
        results = []
        for r in wanted:
            info = service.recover_sync(r.id, consent_method=args.consent)
            results.append({"recording": r.to_json(), "session": info.to_json()})
            if not getattr(args, "json", False):
                echo(f"Recovered {fmt_ts(r.duration_s)} as session {info.id}")
                echo(session_line(info))
        if getattr(args, "json", False):
            echo(json.dumps(results, indent=2, ensure_ascii=False))
        elif not results:
            echo("No interrupted recording.")
        return EXIT_OK


def add_record_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "record",
        parents=[common],
        help="record a session from a microphone (Ctrl+C stops and keeps it)",
        description="Record a session from an input device; Ctrl+C (or SIGTERM) stops and keeps the audio.",
    )
    p.add_argument("--device", default=None, help="input device name or index (default: the last one used)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this much audio (default: Ctrl+C)")
    p.add_argument("--client", default=None, help="client name (created if new)")
    p.add_argument("--date", default=None, help="session date, YYYY-MM-DD (default: today)")
    p.add_argument("--consent", default=None, choices=["verbal", "written", "electronic"])
    p.add_argument(
        "--type", default="individual", choices=["individual", "couples", "family", "group"], help="session type"
    )
    p.add_argument("--channels", type=int, choices=[1, 2], default=None, help="default: 2 on a two-channel device")
    p.add_argument("--sample-rate", type=int, default=None, help="default: the device's rate (or 48000)")
    p.add_argument("--wait", action="store_true", help="process the session now and wait until done")
    p.set_defaults(func=cmd_record)
    rsub = p.add_subparsers(dest="record_command", metavar="ACTION")
    d = rsub.add_parser("devices", parents=[common], help="list input devices")
    d.set_defaults(func=cmd_record_devices)
    r = rsub.add_parser("recover", parents=[common], help="save (or discard) recordings a crash interrupted")
    r.add_argument("id", nargs="?", default=None, help="one interrupted recording (default: all of mine)")
    r.add_argument("--list", action="store_true", help="only list them")
    r.add_argument("--consent", default=None, choices=["verbal", "written", "electronic"])
    r.add_argument("--discard", default=None, metavar="ID", help="delete this interrupted recording for good")
    r.add_argument("--yes", action="store_true", help="confirm --discard")
    r.set_defaults(func=cmd_record_recover)
