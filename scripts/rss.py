"""Peak memory of a whole process tree, sampled from /proc (Linux) on a background thread.

``TreeSampler(root_pid)`` sums the resident set (RSS) of the root and all its descendants every ``interval``
seconds and keeps the peak of that sum, plus each process's own peak. Summing RSS counts shared pages (the
Python runtime, shared libraries) once per process, so it overstates the true footprint a little; the
proportional set size (PSS, from /proc/PID/smaps_rollup) splits shared pages between their users and is
reported beside it when the kernel offers it. Memory files (memfd: the decoded audio the engine workers read)
hold memory that no process's RSS shows while it is read with read() rather than mapped; their sizes are added
to the tree's total, each file once (a backend that maps the file has those pages in its RSS too: counted twice,
the total errs high, never low).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PROC = Path("/proc")


def available() -> bool:
    return (PROC / "self" / "statm").is_file()


def children_map() -> dict[int, list[int]]:
    """Parent pid → child pids for every process visible in /proc."""
    out: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after its closing ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def tree(root: int) -> list[int]:
    kids = children_map()
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(kids.get(pid, ()))
    return pids


def rss_bytes(pid: int) -> int:
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int | None:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def memory_file_bytes(pids: list[int]) -> int:
    """Bytes held by the memory files (memfd) the processes have open, each file counted once."""
    seen: dict[int, int] = {}
    for pid in pids:
        fd_dir = PROC / str(pid) / "fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                if not os.readlink(fd_dir / name).startswith("/memfd:"):
                    continue
                st = os.stat(fd_dir / name)
            except OSError:
                continue
            seen[st.st_ino] = st.st_size
    return sum(seen.values())


def describe(pid: int) -> str:
    """A short label: the command name plus the last interesting argument (a worker's role, a script)."""
    try:
        comm = (PROC / str(pid) / "comm").read_text().strip()
        args = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in args if a]
    tail = next((w for w in reversed(words) if not w.startswith("-") and "=" not in w and len(w) < 60), "")
    return f"{comm} {Path(tail).name}".strip() if tail and Path(tail).name != comm else comm


def machine_busy_seconds() -> float:
    """CPU-seconds all CPUs have spent busy since boot (/proc/stat: everything but idle and iowait)."""
    try:
        fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    ticks = [int(x) for x in fields]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """How much CPU this process and its waited-for children used during a block, and how much everything
    else on the machine used: a benchmark run on a busy machine says so instead of quietly reporting slow."""

    def __enter__(self) -> CpuWatch:
        import resource

        self._res = resource
        self._wall = time.perf_counter()
        self._busy = machine_busy_seconds()
        self._ours = self._ours_now()
        return self

    def _ours_now(self) -> float:
        total = 0.0
        for who in (self._res.RUSAGE_SELF, self._res.RUSAGE_CHILDREN):
            usage = self._res.getrusage(who)
            total += usage.ru_utime + usage.ru_stime
        return total

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.ours_cpu_s = self._ours_now() - self._ours
        self.machine_cpu_s = machine_busy_seconds() - self._busy
        self.other_cpu_s = max(self.machine_cpu_s - self.ours_cpu_s, 0.0)

    def report(self) -> dict[str, float]:
        cpus = os.cpu_count() or 1
        return {
            "wall_s": round(self.wall_s, 2),
            "our_cpu_s": round(self.ours_cpu_s, 2),
            "other_cpu_s": round(self.other_cpu_s, 2),
            "other_load": round(self.other_cpu_s / max(self.wall_s, 1e-9), 2),  # average busy cores
            "cpus": cpus,
        }


@dataclass
class TreeSampler:
    """Context manager: samples the tree under ``root`` until exit. Peaks are in bytes."""

    root: int = field(default_factory=os.getpid)
    interval: float = 0.1
    pss: bool = True
    peak_rss: int = 0
    peak_pss: int = 0
    peak_total: int = 0  # RSS plus the memory files (see the module's docstring)
    peak_files: int = 0
    peak_processes: int = 0
    per_process: dict[int, dict[str, Any]] = field(default_factory=dict)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()  # one last look, so a short phase still has a sample

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        pids = tree(self.root)
        total_rss = total_pss = 0
        for pid in pids:
            rss = rss_bytes(pid)
            if rss == 0:
                continue
            total_rss += rss
            pss = pss_bytes(pid) if self.pss else None
            total_pss += pss or 0
            entry = self.per_process.get(pid)
            if entry is None:
                entry = self.per_process[pid] = {"pid": pid, "name": describe(pid), "peak_rss": 0}
            entry["peak_rss"] = max(entry["peak_rss"], rss)
        files = memory_file_bytes(pids)
        self.peak_rss = max(self.peak_rss, total_rss)
        self.peak_pss = max(self.peak_pss, total_pss)
        self.peak_files = max(self.peak_files, files)
        self.peak_total = max(self.peak_total, total_rss + files)
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1

    def report(self) -> dict[str, Any]:
        mb = 1024 * 1024
        return {
            "peak_tree_rss_mb": round(self.peak_rss / mb, 1),
            "peak_tree_pss_mb": round(self.peak_pss / mb, 1) if self.pss and self.peak_pss else None,
            "peak_memory_files_mb": round(self.peak_files / mb, 1),
            "peak_tree_total_mb": round(self.peak_total / mb, 1),
            "peak_processes": self.peak_processes,
            "samples": self.samples,
            "interval_s": self.interval,
            "per_process_peak_rss_mb": sorted(
                (
                    {"pid": e["pid"], "name": e["name"], "mb": round(e["peak_rss"] / mb, 1)}
                    for e in self.per_process.values()
                ),
                key=lambda e: -float(e["mb"]),
            ),
        }


if __name__ == "__main__":
    import json
    import subprocess
    import sys

    # python scripts/rss.py CMD ARGS…: run a command and print the peak memory of its process tree.
    with TreeSampler() as sampler:
        code = subprocess.call(sys.argv[1:])
    print(json.dumps(sampler.report(), indent=1), file=sys.stderr)
    sys.exit(code)
