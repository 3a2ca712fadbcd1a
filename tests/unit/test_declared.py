"""A step runs only the state-changing commands it declares: the check, its slots and
conditions, its undo, and the guard's lvextend acting for the step that started it."""

from __future__ import annotations

import pytest

from lvmkit.core import declared
from lvmkit.core.declared import UndeclaredCommand
from lvmkit.core.plan import Conditional, Plan, Slot, Step, acting, execute
from lvmkit.lvm.watch import read_argv

from .recorded_guard import MIB, guard_on


def test_undeclared_command_in_a_step_is_refused_before_it_runs_and_the_undo_runs(scripted_host):
    plan = Plan("t", [
        Step("snapshot", [["lvcreate", "s"]], undo_commands=[["lvremove", "s"]]),
        Step("mount", [["mount", "s", "/m"]], run=lambda host: host.run(["mount", "-o", "rw", "s", "/m"], changes=True)),
    ])
    scripted_host.expect(["lvcreate", "s"], changes=True)
    scripted_host.expect(["lvremove", "s"], changes=True)  # no mount: it was refused, not run
    with pytest.raises(UndeclaredCommand, match="step 'mount' ran .*'-o', 'rw'"):
        execute(plan, scripted_host, log=lambda message: None)


def test_undeclared_command_in_an_undo_still_runs_and_is_logged_and_recorded(scripted_host):
    def boom(host):
        raise RuntimeError("the engine failed")

    plan = Plan("t", [
        Step("snapshot", [["lvcreate", "s"]], undo_commands=[["lvremove", "s"]],
             undo=lambda host: host.run(["lvremove", "--force", "s"], changes=True)),
        Step("read", [], run=boom),
    ])
    scripted_host.expect(["lvcreate", "s"], changes=True)
    scripted_host.expect(["lvremove", "--force", "s"], changes=True)
    messages = []
    with pytest.raises(RuntimeError):
        execute(plan, scripted_host, log=messages.append)
    assert any(m.startswith("warning: step 'snapshot' ran ['lvremove', '--force', 's']") for m in messages)


def test_undo_records_what_it_ran_undeclared(scripted_host):
    step = Step("snapshot", [["lvcreate", "s"]], undo_commands=[["lvremove", "s"]],
                undo=lambda host: host.run(["lvremove", "--force", "s"], changes=True))
    scripted_host.expect(["lvremove", "--force", "s"], changes=True)
    acting_undo = declared.Acting(step, undoing=True, log=lambda message: None)
    with declared.acting_for(acting_undo):
        step.revert(scripted_host)
    assert acting_undo.undeclared == [["lvremove", "--force", "s"]]


def test_slot_matches_any_word_in_its_place_only():
    step = Step("stop", [], conditional=[Conditional("it fails", ["kill", "-TERM", "--", Slot("-pgid")])])
    assert step.declares(["kill", "-TERM", "--", "-4242"], undoing=False)
    assert not step.declares(["kill", "-KILL", "--", "-4242"], undoing=False)
    assert not step.declares(["kill", "-TERM", "--", "-4242", "1"], undoing=False)
    assert not step.declares(["kill", "-TERM", "--", "-4242"], undoing=True)  # not its undo


def test_conditional_command_is_rendered_with_its_condition_and_hashed():
    plain = Plan("t", [Step("watch", [["dmsetup", "status", "d"]])])
    extending = Plan("t", [Step("watch", [["dmsetup", "status", "d"]],
                                conditional=[Conditional("60% used", ["lvextend", "--extents", Slot("+n"), "vg/s"])])])
    assert "      when 60% used: $ lvextend --extents '<+n>' vg/s" in extending.render()
    assert plain.sha256 != extending.sha256
    assert "conditional" not in plain.as_dict()["steps"][0]  # plans approved before hash alike


def test_state_change_outside_any_step_is_allowed_unless_refused():
    declared.check(["lvcreate", "x"])
    with pytest.raises(UndeclaredCommand, match="outside any step"):
        declared.check(["lvcreate", "x"], outside="refuse")


def test_guard_extension_runs_as_the_watch_step_whichever_step_is_acting(scripted_host, fixture_text):
    guard = guard_on(scripted_host, fixture_text, autoextend=True)
    watch = Step("watch", [], conditional=guard.conditional_commands())
    with acting(watch):
        guard.start()
    guard.stop()
    scripted_host.expect(read_argv("labvg-rec_valid"), stdout=fixture_text("dmsetup/status-rec_valid.txt"))
    scripted_host.expect(["lvextend", "--extents", "+2", "labvg/rec_valid"], changes=True)
    with acting(Step("read the snapshot", [["engine"]])):  # declares no lvextend itself
        guard.check_now()
    assert guard.snapshot_bytes == 16 * MIB


def test_guard_extension_that_its_step_does_not_declare_is_refused(scripted_host, fixture_text):
    guard = guard_on(scripted_host, fixture_text, autoextend=True)
    with acting(Step("watch", [])):  # the condition left out of the plan
        guard.start()
    guard.stop()
    scripted_host.expect(read_argv("labvg-rec_valid"), stdout=fixture_text("dmsetup/status-rec_valid.txt"))
    with pytest.raises(UndeclaredCommand, match="lvextend"):
        guard.check_now()


def test_guard_without_autoextend_declares_nothing(scripted_host, fixture_text):
    assert guard_on(scripted_host, fixture_text, autoextend=False).conditional_commands() == []


def test_slot_survives_a_deep_copy_as_itself():
    import copy
    slot = Slot("pid")
    assert copy.deepcopy(slot) == "<pid>" and isinstance(copy.deepcopy(slot), Slot)
