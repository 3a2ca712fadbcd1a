"""The origin's lock as two plan steps: taken first, released last, released by the undo.

The lock was taken around a plan's execution; as steps, its commands are in the plan that
is shown, hashed and approved like every other command that changes state. The lock's
content (controller, pid, start time) is known only when it is taken: the release
declares it as a Slot.
"""

from __future__ import annotations

from lvmkit.core.host import Host
from lvmkit.core.plan import Slot, Step
from lvmkit.lvm.lock import OriginLock, acquire, create_lock_argv, lock_path, release, remove_if_same_argv


def lock_steps(vg: str, lv: str, run_id: str, command: str) -> tuple[Step, Step]:
    """(take, release) for VG/LV's lock held by this run, as `command`."""
    path = lock_path(vg, lv)
    # The script's last word is the content; a Slot stays a Slot only if put there as it is.
    release_argv = [*remove_if_same_argv(path, "")[:-1], Slot("the content this run wrote to it")]
    taken: list[OriginLock] = []

    def take(host: Host) -> None:
        taken.append(acquire(host, vg, lv, run_id, command))

    def give_back(host: Host) -> None:
        while taken:  # once: the undo and the last step may both come here
            release(host, taken.pop())

    take_step = Step(f"take the lock of {vg}/{lv} (one run of a volume at a time)", [create_lock_argv(path)],
                     run=take, undo_commands=[release_argv], undo=give_back)
    release_step = Step(f"release the lock of {vg}/{lv}", [release_argv], run=give_back)
    return take_step, release_step
