"""Table 3: how long a consistency group keeps its members frozen."""

from __future__ import annotations

import json

from .report import Table
from .stats import sample
from .workbench import Workbench

GROUP_SIZES = (1, 2, 4)
MEMBER_MIB = 48
MEMBER_DATA_MIB = 8


def freeze_table(bench: Workbench, dest: str, runs: int) -> Table:
    members = [bench.make_volume(f"g{index}", MEMBER_MIB) for index in range(1, max(GROUP_SIZES) + 1)]
    for member in members:
        bench.fill(member, "small-files", MEMBER_DATA_MIB)
    windows = {size: [] for size in GROUP_SIZES}
    suspends = {size: [] for size in GROUP_SIZES}
    wholes = {size: [] for size in GROUP_SIZES}
    try:
        for index in range(runs):
            shift = index % len(GROUP_SIZES)
            for size in GROUP_SIZES[shift:] + GROUP_SIZES[:shift]:
                group = ",".join(member.spec for member in members[:size])
                bench.run(["rm", "-rf", "--", f"{dest}/group"])
                run = bench.lvmkit("backup", "--group", group, "--dest", dest, "--name", "group",
                                   "--engine", "tar", "--json")
                window = json.loads(run.stdout)["freeze_window"]
                windows[size].append(window["frozen_s"])
                suspends[size].append(window["suspend_s"])
                wholes[size].append(run.seconds)
    finally:
        bench.run(["rm", "-rf", "--", f"{dest}/group"], check=False)
        for member in members:
            bench.remove_volume(member)
    table = Table(
        "3. Freeze window of a consistency group",
        f"`lvmkit backup --group` of 1, 2 and 4 mounted ext4 volumes ({MEMBER_MIB} MiB each, "
        f"{MEMBER_DATA_MIB} MiB of small files), engine tar, lvmkit on the target. The window is "
        f"what lvmkit records in the group's manifest: from the first member's suspend (which "
        f"freezes its filesystem) to the last member's resume, measured by the freeze command on "
        f"the target. Of it, *suspending* is the time to suspend every member; the rest is the "
        f"`lvcreate` of each snapshot. {runs} runs of each size, the order turning each round.",
        ["members", "runs", "frozen: median (min-max)", "of it suspending", "whole group backup"],
    )
    for size in GROUP_SIZES:
        table.add(size, len(windows[size]), _milliseconds(sample(windows[size])),
                  _milliseconds(sample(suspends[size])), sample(wholes[size]).seconds())
    return table


def _milliseconds(values) -> str:
    return f"{values.median * 1000:.0f} ms ({values.low * 1000:.0f}-{values.high * 1000:.0f})"
