"""Host: the one door for commands, and its journal."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time

import pytest

from lvmkit.core.errors import CommandError, HostUnreachable, MissingToolError, UsageError
from lvmkit.core.host import SUPERUSER_PATH, Host, SshHost, parse_ssh_url
from lvmkit.core.journal import OUTPUT_LIMIT, Journal
from lvmkit.targets import connect, vagrant_known_hosts


def test_run_with_success_journals_argv_exit_code_output_and_times(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    result = Host(journal=journal).run(["printf", "%s", "hello world"])
    assert result.stdout == "hello world" and result.returncode == 0
    (entry,) = Journal.read(tmp_path / "journal.jsonl")
    assert entry.argv == ["printf", "%s", "hello world"]
    assert entry.returncode == 0 and entry.stdout == "hello world"
    assert entry.host == "local" and entry.changes_state is False and entry.planned is False
    assert entry.start <= entry.end and entry.duration_s >= 0
    assert entry.start.endswith("+00:00"), "journal times are UTC"


def test_run_with_failing_command_raises_command_error_with_argv_code_and_stderr_tail():
    script = 'for i in $(seq 1 30); do echo "line $i" >&2; done; exit 3'
    with pytest.raises(CommandError) as raised:
        Host().run(["sh", "-c", script])
    error = raised.value
    assert error.returncode == 3 and error.argv == ["sh", "-c", script]
    assert error.stderr_tail.splitlines() == [f"line {i}" for i in range(19, 31)]
    assert "exit code 3" in str(error) and "line 30" in str(error)


def test_run_with_check_false_returns_failure_without_raising():
    assert Host().run(["false"], check=False).returncode == 1


@pytest.mark.parametrize("argv", ["ls -l", b"ls", [], ["ls", 3]])
def test_run_with_shell_string_or_malformed_argv_is_refused(argv):
    with pytest.raises(TypeError):
        Host().run(argv)


def test_run_sets_c_locale_and_superuser_path():
    output = Host().run(["sh", "-c", 'echo "$LC_ALL|$PATH"']).stdout.strip()
    locale, path = output.split("|")
    assert locale == "C"
    assert all(part in path.split(":") for part in SUPERUSER_PATH.split(":"))


def test_run_with_dry_run_records_state_changes_as_planned_and_runs_queries(tmp_path):
    journal = Journal()
    host = Host(journal=journal, dry_run=True)
    target = tmp_path / "created"
    result = host.run(["touch", str(target)], changes=True)
    assert result.planned and not target.exists()
    assert host.run(["printf", "query"]).stdout == "query"
    planned, query = journal.entries
    assert planned.planned and planned.returncode is None and planned.changes_state
    assert not query.planned and query.returncode == 0


def test_run_with_timeout_reports_exit_124_and_says_so():
    with pytest.raises(CommandError) as raised:
        Host().run(["sleep", "5"], timeout=0.2)
    assert raised.value.returncode == 124 and "timed out after 0.2 s" in str(raised.value)


def test_run_never_gives_the_command_the_callers_stdin():
    read_end, write_end = os.pipe()
    os.write(write_end, b"typed at the terminal\n")
    os.close(write_end)
    saved = os.dup(0)
    os.dup2(read_end, 0)  # the caller's stdin holds input a command must not take
    try:
        result = Host().run(["cat"], timeout=10)
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read_end)
    assert result.stdout == "", "the command read the caller's stdin"
    assert Host().run(["cat"], input="given\n").stdout == "given\n", "input= still reaches it"


def test_run_with_unknown_program_raises_command_error_127():
    with pytest.raises(CommandError) as raised:
        Host().run(["lvmkit-no-such-program"])
    assert raised.value.returncode == 127 and "command not found" in str(raised.value)


def test_journal_keeps_only_the_end_of_huge_output():
    journal = Journal()
    Host(journal=journal).run(["head", "-c", str(OUTPUT_LIMIT * 3), "/dev/zero"])
    stdout = journal.entries[0].stdout
    assert len(stdout) < OUTPUT_LIMIT + 100 and stdout.startswith("[... 32768 characters cut ...]")


def test_require_tools_with_missing_tools_names_each_with_its_debian_package():
    with pytest.raises(MissingToolError) as raised:
        Host().require_tools(["sh", "lvmkit-no-such-tool", "fsarchiver-not-here"])
    message = str(raised.value)
    assert "lvmkit-no-such-tool" in message and "fsarchiver-not-here" in message
    assert "sh " not in message.replace("apt-get install", "")
    assert raised.value.missing == {"lvmkit-no-such-tool": "lvmkit-no-such-tool",
                                    "fsarchiver-not-here": "fsarchiver-not-here"}


def test_require_tools_names_the_debian_package_of_known_tools(monkeypatch):
    monkeypatch.setattr(Host, "missing_tools", lambda self, tools: ["mkfs.xfs", "partclone.ext4"])
    with pytest.raises(MissingToolError, match=r"apt-get install partclone xfsprogs"):
        Host().require_tools(["mkfs.xfs", "partclone.ext4"])


@pytest.mark.parametrize(
    "argv",
    [
        ["echo", "a; rm -rf /", "$(reboot)", "`id`", "two  spaces", "quote'\"", "*", "new\nline"],
        ["lvcreate", "-n", "name with space", "vg/lv"],
    ],
)
def test_ssh_transport_with_metacharacters_rebuilds_exact_argv_remotely(argv):
    host = SshHost(address="server.example", port=2222, user="root")
    transport = host.transport_argv(argv)
    assert transport[0] == "ssh" and transport[-3:-1] == ["server.example", "--"]
    remote = shlex.split(transport[-1])  # what the remote shell will do with the string
    assert remote == ["env", "LC_ALL=C", f"PATH={SUPERUSER_PATH}", *argv]


def test_ssh_options_multiplex_one_connection(tmp_path):
    options = SshHost(address="h", control_dir=tmp_path).ssh_options()
    assert "ControlMaster=auto" in options and f"ControlPath={tmp_path}/%C" in options
    assert "BatchMode=yes" in options


def test_ssh_config_file_comes_first_so_aliases_resolve_through_it(tmp_path, monkeypatch):
    config = tmp_path / "fleet.ssh_config"
    config.write_text("Host web1\n  HostName 127.0.0.1\n")
    monkeypatch.setenv("LVMKIT_SSH_CONFIG", str(config))
    host = connect("ssh://root@web1:2222", Journal())
    options = host.ssh_options()
    assert options[:2] == ["-F", str(config)]


def test_ssh_config_file_that_does_not_exist_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("LVMKIT_SSH_CONFIG", "/nonexistent/fleet.ssh_config")
    with pytest.raises(UsageError, match="LVMKIT_SSH_CONFIG='/nonexistent/fleet.ssh_config' is not"):
        connect("ssh://web1", Journal())


@pytest.mark.parametrize(
    "url, user, address, port",
    [
        ("ssh://server", None, "server", 22),
        ("ssh://root@10.0.0.5:2222", "root", "10.0.0.5", 2222),
        ("ssh://backup-op@db1.example.org/", "backup-op", "db1.example.org", 22),
        ("ssh://[::1]:22", None, "[::1]", 22),
    ],
)
def test_parse_ssh_url_with_valid_url_gives_user_address_and_port(url, user, address, port):
    host = parse_ssh_url(url)
    assert (host.user, host.address, host.port) == (user, address, port)


@pytest.mark.parametrize(
    "url",
    ["ssh://", "ssh://host:99999", "ssh://us;er@host", "ssh://host;reboot", "ssh://-oProxyCommand=x",
     "http://host", "ssh://host:22:33", "ssh://ho st"],
)
def test_parse_ssh_url_with_malformed_url_raises_usage_error(url):
    with pytest.raises(UsageError, match="ssh://"):
        parse_ssh_url(url) if url.startswith("ssh://") else connect(url, Journal())


def test_connect_with_unknown_host_spec_names_the_accepted_forms():
    with pytest.raises(UsageError, match=r"expected 'local', 'lab', 'vagrant\[:MACHINE\]' or ssh://"):
        connect("labb", Journal())


def test_ssh_host_that_does_not_answer_raises_host_unreachable_naming_it(tmp_path):
    with socket.socket() as closed:  # a port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    host = SshHost(address="127.0.0.1", port=port, user="root", connect_timeout_s=3, control_dir=tmp_path)
    with pytest.raises(HostUnreachable) as raised:
        host.run(["true"])
    message = str(raised.value)
    assert f"ssh://root@127.0.0.1:{port} did not answer" in message
    assert "waited up to 3 s" in message and "Connection refused" in message


def test_ssh_login_other_than_root_runs_commands_through_sudo():
    remote = shlex.split(SshHost(address="h", user="vagrant").transport_argv(["lvs"])[-1])
    assert remote[:3] == ["sudo", "-n", "env"] and remote[-1] == "lvs"
    as_root = shlex.split(SshHost(address="h", user="root").transport_argv(["lvs"])[-1])
    assert as_root[0] == "env"


def test_connect_with_unknown_vagrant_machine_names_the_defined_ones():
    with pytest.raises(UsageError, match="defines debian12, rocky9"):
        connect("vagrant:centos", Journal())


def test_start_with_long_command_reports_pid_and_result(tmp_path):
    journal = Journal()
    running = Host(journal=journal).start(["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert running.remote_pid() is not None
    result = running.wait(check=False)
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
    assert journal.entries[-1].argv == ["sh", "-c", "echo out; echo err >&2; exit 4"]
    assert journal.entries[-1].returncode == 4


def test_terminate_stops_the_whole_process_group(tmp_path):
    marker = tmp_path / "child-survived"
    # the child sleeps, then would leave a mark; stopping the group must stop the child too
    running = Host().start(["sh", "-c", f"(sleep 2; touch {marker}) & wait"])
    pid = running.remote_pid()
    running.terminate()
    assert running.wait(check=False).returncode != 0
    time.sleep(2.5)
    assert not marker.exists()
    assert pid is not None


def test_start_with_controller_gone_stops_the_command(tmp_path):
    """When lvmkit dies (its end of stdin closes), the command it started dies with it."""
    marker = tmp_path / "outlived-lvmkit"
    running = Host().start(["sh", "-c", 'sleep 2; touch "$1"', "sh", str(marker)])
    running.remote_pid()
    running._popen.stdin.close()  # what the kernel does to every fd of a killed process
    assert running.wait(check=False).returncode != 0
    time.sleep(2.5)
    assert not marker.exists()


def test_vagrant_vm_host_key_is_recorded_per_vm_id_beside_vagrants_state(tmp_path, monkeypatch):
    monkeypatch.setenv("VAGRANT_DOTFILE_PATH", str(tmp_path))
    with pytest.raises(UsageError, match=r"knows no VM 'debian12'.*vagrant up debian12"):
        vagrant_known_hosts("debian12")
    state = tmp_path / "machines" / "debian12" / "libvirt"
    state.mkdir(parents=True)
    (state / "id").write_text("5f1c-uuid")
    assert vagrant_known_hosts("debian12") == state / "known_hosts-5f1c-uuid"
    options = SshHost(address="h", known_hosts_file=state / "known_hosts-5f1c-uuid",
                      accept_new_host_key=True, control_dir=tmp_path).ssh_options()
    assert "StrictHostKeyChecking=accept-new" in options
    assert "StrictHostKeyChecking=yes" in SshHost(address="h", known_hosts_file=state / "k", control_dir=tmp_path).ssh_options()


@pytest.mark.parametrize("user, stops", [("vagrant", True), ("root", False)])
def test_tethered_command_under_sudo_leads_the_group_that_terminate_stops(tmp_path, user, stops):
    """sudo runs the wrapper as a forked child in sudo's own process group. Run here under a
    parent that forks the same way, the wrapper of a sudo login (user vagrant) stops its
    command with `kill -TERM -PID`; a root login's wrapper, which needs no sudo and so gets
    no setsid, finds no group to stop there: the control that shows the problem is real."""
    marker = tmp_path / "survived"
    tethered = SshHost(address="h", user=user).tethered_argv(["sh", "-c", 'sleep 2; touch "$1"', "sh", str(marker)])
    like_sudo = ["sh", "-c", '"$@"; exit $?', "sh", *tethered]  # forks its command, as sudo does
    popen = subprocess.Popen(like_sudo, stdin=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    pid = int(popen.stderr.readline().split()[1])  # "lvmkit-pid N"
    killed = subprocess.run(["kill", "-TERM", "--", f"-{pid}"], capture_output=True, check=False)
    assert (killed.returncode == 0) == stops
    popen.wait(timeout=10)
    time.sleep(2.5)
    assert marker.exists() != stops
    popen.stdin.close()
