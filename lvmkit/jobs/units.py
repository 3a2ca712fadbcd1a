"""systemd units for a job: a oneshot service that runs it and a timer that starts it.

The hardening is what a root backup still allows. What it needs, and so what is NOT set:
- ProtectSystem=full/strict: lvcreate writes LVM's metadata backups to /etc/lvm/{archive,backup}
  (and `strict` would also make the destination and /run/lvmkit read-only).
- PrivateDevices: hides /dev/mapper and the volumes; the engines read snapshot devices.
- ProtectKernelTunables: makes /sys read-only; LVM and udev settle devices through sysfs.
- ProtectKernelModules: the snapshot and thin targets (dm-snapshot, dm-thin-pool) may have to
  be loaded on the first backup after boot.
- ProtectHome / PrivateNetwork: a destination may be under /home; ssh:// hosts need the network.
- MemoryDenyWriteExecute: forbids what some Python extensions (cffi) do.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from lvmkit.core.errors import UsageError

DEFAULT_UNIT_DIR = "/etc/systemd/system"

_SERVICE = """\
# Written by `lvmkit job install {job}`; `lvmkit job uninstall {job}` removes it.
[Unit]
Description=lvmkit backup job {job}
Documentation=file://{docs}
# The destination may be a network filesystem, and ssh:// hosts need the network.
Wants=network-online.target
After=network-online.target local-fs.target

[Service]
Type=oneshot
ExecStart={exec_start}
# A backup is background work: lowest CPU priority short of idle, and the lowest
# best-effort I/O class (the idle class could starve it forever on a busy server).
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
# SIGTERM makes lvmkit undo what it did (unmount, remove the snapshot): give it time.
KillMode=mixed
TimeoutStopSec=5min
# Two runs never overlap: systemd does not start an active oneshot again, and a run
# started by hand meanwhile is refused by the volume's lock; the failed unit's
# `systemctl status` shows lvmkit's message naming the run that holds it.
# Hardening a root backup still allows (see lvmkit/jobs/units.py for what it cannot have):
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=true
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectKernelLogs=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# LVM talks to udev over netlink; ssh:// hosts need IP.
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6
"""

_TIMER = """\
# Written by `lvmkit job install {job}`; `lvmkit job uninstall {job}` removes it.
[Unit]
Description=start lvmkit backup job {job} ({on_calendar})

[Timer]
OnCalendar={on_calendar}
# A run missed while the machine was off starts at the next boot.
Persistent=true
# Spread the jobs of many servers, so they do not all hit storage at the same second.
RandomizedDelaySec={randomized_delay}
AccuracySec=1min

[Install]
WantedBy=timers.target
"""


@dataclass(frozen=True)
class Units:
    job: str
    service: str
    timer: str

    @property
    def service_name(self) -> str:
        return unit_name(self.job, "service")

    @property
    def timer_name(self) -> str:
        return unit_name(self.job, "timer")


def unit_name(job: str, kind: str) -> str:
    return f"lvmkit-job-{job}.{kind}"


def render(job: str, lvmkit: str, config: str, on_calendar: str, randomized_delay: str = "30min",
           records: str | None = None) -> Units:
    """`records`: run the job as the `scheduled-job` runbook, recorded in that directory."""
    for value, what in ((on_calendar, "--on-calendar"), (randomized_delay, "--randomized-delay")):
        if "\n" in value or not value.strip():
            raise UsageError(f"{what} {value!r}: give one systemd time value, e.g. daily or 30min")
    if records is None:
        exec_start = shlex.join([lvmkit, "job", "run", "--config", config, job])
    else:
        exec_start = shlex.join([lvmkit, "runbook", "run", "scheduled-job", "-p", "job", job, "-p", "config", config,
                                 "--records", records])
    docs = Path(__file__).resolve().parents[2] / "docs" / "jobs.md"
    return Units(job, _SERVICE.format(job=job, exec_start=exec_start, docs=docs),
                 _TIMER.format(job=job, on_calendar=on_calendar, randomized_delay=randomized_delay))


def install(units: Units, unit_dir: str) -> list[Path]:
    written = []
    for name, text in ((units.service_name, units.service), (units.timer_name, units.timer)):
        path = Path(unit_dir) / name
        path.write_text(text)
        path.chmod(0o644)
        written.append(path)
    return written


def uninstall(job: str, unit_dir: str) -> list[Path]:
    removed = []
    for kind in ("timer", "service"):
        path = Path(unit_dir) / unit_name(job, kind)
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
