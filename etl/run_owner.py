"""Who runs a ledger run, and whether that process still runs (``Ledger.mark_interrupted``).

A run killed with ``kill -9``, by the OOM killer or a reboot never records its end; the next
run on the same machine tells from this record that its process is gone.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class RunOwner:
    """Who runs a run: enough to tell later, from the same machine, whether it still runs.

    ``pid`` alone is not enough: pids are reused, and after a reboot or in another container
    (another pid namespace) the same number is another process. So the process's start time
    (``/proc/<pid>/stat``), the boot id and the pid namespace are kept too."""

    host: str
    boot: str
    pidns: str
    pid: int
    start: str

    @classmethod
    def current(cls) -> RunOwner:
        return cls(
            socket.gethostname(),
            _read("/proc/sys/kernel/random/boot_id"),
            _pid_namespace(),
            os.getpid(),
            _start_time(os.getpid()) or "",
        )

    @classmethod
    def parse(cls, text: str) -> RunOwner | None:
        try:
            data = json.loads(text)
            return cls(
                str(data["host"]),
                str(data["boot"]),
                str(data["pidns"]),
                int(data["pid"]),
                str(data["start"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    def ended_without_finishing(self) -> str:
        """The message of a run whose process is gone (``gone``)."""
        return (
            f"process {self.pid} on {self.host} ended without finishing the run (killed?); "
            "its inputs that were not recorded are still pending"
        )

    def gone(self, here: RunOwner) -> bool | None:
        """True when this process has certainly ended, seen from ``here``; None when it cannot
        be told (another machine or container)."""
        if self.host != here.host:
            return None
        if self.boot and here.boot and self.boot != here.boot:
            return True  # the machine restarted since
        if self.pidns != here.pidns:
            return None
        if self.start and here.start:
            return _start_time(self.pid) != self.start  # gone, a zombie, or another process
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except (OSError, ValueError):
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot); None when it is not running
    (a zombie, killed but not yet reaped, counts as not running)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return fields[19]
