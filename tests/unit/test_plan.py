"""Plan, then execute: order, undo in reverse, kept steps, hashing."""

from __future__ import annotations

import pytest

from lvmkit.core.plan import Plan, Step, execute


class Boom(Exception):
    pass


def failing(host):
    raise Boom("the engine failed")


def test_execute_with_failure_undoes_completed_steps_in_reverse(scripted_host):
    plan = Plan("t", [
        Step("snapshot", [["lvcreate", "s"]], undo_commands=[["lvremove", "s"]]),
        Step("mount", [["mount", "s", "/m"]], undo_commands=[["umount", "/m"]]),
        Step("read", [["engine"]], run=failing),
    ])
    for argv in (["lvcreate", "s"], ["mount", "s", "/m"], ["umount", "/m"], ["lvremove", "s"]):
        scripted_host.expect(argv, changes=True)
    with pytest.raises(Boom):
        execute(plan, scripted_host, log=lambda message: None)


def test_execute_with_signal_as_next_step_is_announced_still_undoes_completed_steps(scripted_host):
    # The operator's SIGTERM lands right after "[2/2] read" is printed, before that step starts.
    plan = Plan("t", [
        Step("snapshot", [["lvcreate", "s"]], undo_commands=[["lvremove", "s"]]),
        Step("read", [["engine"]], run=failing),
    ])
    for argv in (["lvcreate", "s"], ["lvremove", "s"]):
        scripted_host.expect(argv, changes=True)

    def log(message):
        if message.startswith("[2/2]"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(plan, scripted_host, log=log)


def test_execute_with_keep_on_failure_keeps_that_step_and_undoes_the_rest(scripted_host):
    plan = Plan("t", [
        Step("snapshot", [["lvcreate", "s"]], undo_commands=[["lvremove", "s"]], keep_on_failure=True),
        Step("mount", [["mount", "s", "/m"]], undo_commands=[["umount", "/m"]]),
        Step("read", [["engine"]], run=failing),
    ])
    for argv in (["lvcreate", "s"], ["mount", "s", "/m"], ["umount", "/m"]):
        scripted_host.expect(argv, changes=True)
    messages = []
    with pytest.raises(Boom):
        execute(plan, scripted_host, log=messages.append)
    assert "keeping: snapshot (as asked)" in messages


def test_execute_with_undo_armed_before_undoes_the_failing_step_itself(scripted_host):
    plan = Plan("t", [Step("half-made", [["make"]], undo_commands=[["unmake"]], undo_armed_before=True)])
    scripted_host.expect(["make"], changes=True, returncode=5)
    scripted_host.expect(["unmake"], changes=True)
    with pytest.raises(Exception, match="exit code 5"):
        execute(plan, scripted_host, log=lambda message: None)


def test_execute_with_success_runs_no_undo_and_records_each_step(scripted_host):
    plan = Plan("t", [Step("a", [["a"]], undo_commands=[["undo-a"]]), Step("b", [["b"]])])
    scripted_host.expect(["a"], changes=True)
    scripted_host.expect(["b"], changes=True)
    records = execute(plan, scripted_host, log=lambda message: None)
    assert [(r.title, r.outcome) for r in records] == [("a", "done"), ("b", "done")]


def test_sha256_with_changed_command_changes_and_with_same_plan_is_stable():
    one = Plan("t", [Step("a", [["lvcreate", "-l", "10"]])])
    same = Plan("t", [Step("a", [["lvcreate", "-l", "10"]])])
    other = Plan("t", [Step("a", [["lvcreate", "-l", "11"]])])
    assert one.sha256 == same.sha256 != other.sha256
    assert len(one.sha256) == 64


def test_render_shows_every_command_quoted_and_its_undo():
    plan = Plan("t", [Step("a", [["touch", "name with space"]], undo_commands=[["rm", "name with space"]])])
    text = plan.render()
    assert "$ touch 'name with space'" in text and "undo: rm 'name with space'" in text
