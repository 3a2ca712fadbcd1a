"""Writing as root into places others may have touched, run for real on this machine."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time

import pytest

from lvmkit.archive.archive_set import ArchiveSetPaths, flush_argv, publish_argvs, write_file, write_file_argv
from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.core.runs import make_run_dirs_argv
from lvmkit.lvm.filesystem import restore_mount_options, snapshot_mount_options
from lvmkit.lvm.lock import create_lock_argv
from lvmkit.ops.hooks import Hook


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_write_file_replaces_a_planted_symlink_and_leaves_its_target_alone(tmp_path):
    """verify once wrote verification.json with `cat > "$1" && chmod 0600 "$1"`: a symlink
    planted there had its target overwritten and made 0600."""
    victim = tmp_path / "shadow"
    victim.write_text("root:x:0:0\n")
    victim.chmod(0o644)
    archive_set = tmp_path / "set"
    archive_set.mkdir()
    (archive_set / "verification.json").symlink_to(victim)
    write_file(Host(), str(archive_set / "verification.json"), '{"passed": true}\n')
    assert victim.read_text() == "root:x:0:0\n" and mode(victim) == 0o644
    written = archive_set / "verification.json"
    assert not written.is_symlink() and written.read_text() == '{"passed": true}\n'
    assert mode(written) == 0o600
    assert sorted(p.name for p in archive_set.iterdir()) == ["verification.json"], "no temporary file left"


def test_write_file_into_a_missing_directory_fails_and_leaves_nothing(tmp_path):
    host = Host()
    try:
        write_file(host, str(tmp_path / "gone" / "file"), "x")
    except Exception as error:  # CommandError: mktemp cannot create its file
        assert "mktemp" in str(error) or "gone" in str(error)
    else:
        raise AssertionError("writing into a missing directory succeeded")
    assert list(tmp_path.iterdir()) == []


def test_run_directories_are_0700_whatever_the_umask(tmp_path):
    run_dir, mountpoint = tmp_path / "run" / "20261130T000000Z-abcd", tmp_path / "run" / "20261130T000000Z-abcd" / "vg-lv"
    old = os.umask(0)
    try:
        Host().run(make_run_dirs_argv(str(run_dir), str(mountpoint)), changes=True)
    finally:
        os.umask(old)
    assert mode(run_dir) == 0o700 and mode(mountpoint) == 0o700


def test_snapshot_and_restore_mounts_carry_nosuid_and_nodev():
    for fstype in ("ext2", "ext3", "ext4", "xfs"):
        for options in (snapshot_mount_options(fstype), restore_mount_options(fstype)):
            assert {"nosuid", "nodev"} <= set(options.split(",")), (fstype, options)
    assert "ro" in snapshot_mount_options("ext4").split(",")


def test_flush_syncs_files_and_directories_and_follows_no_symlink(tmp_path):
    """A symlink in an rsync tree may name a FIFO or a device: sync would open it."""
    tree = tmp_path / "set" / "tree"
    tree.mkdir(parents=True)
    (tree / "file").write_text("data")
    os.mkfifo(tmp_path / "fifo")
    (tree / "pipe-link").symlink_to(tmp_path / "fifo")
    result = Host().run(flush_argv(str(tmp_path / "set")), changes=True, timeout=30)
    assert result.returncode == 0


def test_publish_flushes_the_set_before_the_rename_and_the_destination_after():
    paths = ArchiveSetPaths("/backups", "vg-lv-1", "filesystem.fsa")
    argvs = publish_argvs(paths, ".lvmkit-run")
    assert argvs == [
        ["rm", "-f", "--", "/backups/.vg-lv-1.partial/.lvmkit-run"],
        flush_argv("/backups/.vg-lv-1.partial"),
        ["mv", "-T", "--no-clobber", "/backups/.vg-lv-1.partial", "/backups/vg-lv-1"],
        ["sync", "--", "/backups"],
    ]


def test_journal_keeps_a_hooks_arguments_and_output_out(tmp_path):
    journal_path = tmp_path / "journal.jsonl"
    host = Host(journal=Journal(journal_path))
    Hook.parse("pre-snapshot", "sh -c 'echo token-abc; echo more-secret >&2' hunter2", 5).run(host)
    text = journal_path.read_text()
    for secret in ("hunter2", "token-abc", "more-secret"):
        assert secret not in text
    (entry,) = Journal.read(journal_path)
    assert entry.argv[:4] == ["timeout", "--kill-after=5", "5", "sh"]
    assert entry.argv[4].startswith("[3 argument(s) [kept out of the journal:")
    assert entry.stdout.startswith("[kept out of the journal: 10 bytes, sha256 ")


def test_journal_keeps_bulky_outputs_out_unless_recording_fixtures(tmp_path):
    from lvmkit.core.journal import BULKY

    quiet, whole = Journal(tmp_path / "a.jsonl"), Journal(tmp_path / "b.jsonl", keep_private=True)
    for journal in (quiet, whole):
        Host(journal=journal).run(["printf", "%s", "a/file\nb/file"], private=BULKY)
    assert Journal.read(tmp_path / "a.jsonl")[0].stdout.startswith("[kept out of the journal: 13 bytes")
    assert Journal.read(tmp_path / "b.jsonl")[0].stdout == "a/file\nb/file"


SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
# The two scripts that write root's files through a temporary: the file's own argv builder
# and the name its temporary starts with.
TEMPORARY_WRITERS = {
    "write_file": (write_file_argv, "verification.json."),
    "create_lock": (create_lock_argv, ".new."),
}


@pytest.mark.parametrize("writer_name", TEMPORARY_WRITERS)
@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_write_interrupted_before_its_rename_removes_its_temporary(tmp_path, writer_name, signum, code):
    """Ctrl-C reaches the writing shell and its cat with lvmkit (one process group): an
    interrupted verify used to leave verification.json.XXXXXX in the set, which then failed
    its closure, and an interrupted lock left .new.XXXXXX in /run/lvmkit/locks. Here the
    write waits on its stdin until the signal comes."""
    argv_for, temporary_prefix = TEMPORARY_WRITERS[writer_name]
    folder = tmp_path / "set"
    folder.mkdir()
    target = folder / "verification.json"
    # env --default-signal: a shell cannot trap a signal that was ignored when it started
    # (POSIX), and a suite run under nohup would hand SIGHUP to the writer ignored.
    writer = subprocess.Popen(["env", f"--default-signal={signal.Signals(signum).name}", *argv_for(str(target))],
                              stdin=subprocess.PIPE, start_new_session=True)
    try:
        writer.stdin.write(b'{"passed": ')  # half a record: cat has it, and waits for the rest
        writer.stdin.flush()
        deadline = time.monotonic() + 10
        while not list(folder.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        (temporary,) = folder.iterdir()
        assert temporary.name.startswith(temporary_prefix)
        # Signal only once cat runs: a signal between the fork of cat and its exec would be
        # taken by the forked shell and lost at the exec, and the shell would then wait for
        # a cat that reads this test's open stdin for ever (lvmkit closes it after the input).
        while subprocess.run(["pgrep", "-P", str(writer.pid), "-x", "cat"], capture_output=True).returncode:
            assert time.monotonic() < deadline, "cat did not start"
            time.sleep(0.02)
        os.killpg(writer.pid, signum)  # as the terminal sends it: to the whole group
        assert writer.wait(timeout=10) == code
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait()
    assert list(folder.iterdir()) == [], "neither the temporary nor a half-written file is left"
