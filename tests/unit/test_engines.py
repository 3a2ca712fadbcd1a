"""Backup engines: the argv they build, their options, and the registry."""

from __future__ import annotations

import re
import shutil

import pytest

from lvmkit.archive.engines import ENGINES, get_engine
from lvmkit.archive.engines import dd as dd_module
from lvmkit.archive.engines import partclone as partclone_module
from lvmkit.archive.engines import tar as tar_module
from lvmkit.archive.engines.common import PIPELINE_PROLOGUE, IntegerRange
from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.ops.backup import unmounts_before_reading

FILESYSTEMS = ["ext2", "ext3", "ext4", "xfs"]
# The engines whose archive is in the set; restic and borg write into a repository
# (tests/unit/test_repository_engines.py).
SET_ENGINES = [name for name, engine in ENGINES.items() if not engine.repository]
DEVICE = "/dev/vg0/root-snap"
MOUNT = "/run/lvmkit/snap"
TARGET_DEVICE = "/dev/vg0/scratch"
TARGET_MOUNT = "/run/lvmkit/target"
CONSTANT_SCRIPTS = {
    dd_module.BACKUP_SCRIPT, dd_module.RESTORE_SCRIPT, dd_module.VERSION_SCRIPT,
    partclone_module.BACKUP_SCRIPT, partclone_module.VERIFY_SCRIPT,
    partclone_module.RESTORE_SCRIPT, partclone_module.VERSION_SCRIPT,
    tar_module.VERSION_SCRIPT,
}


def archive_for(engine, directory="/srv/backups/set-1"):
    return f"{directory}/{engine.archive_name}"


def source_for(engine):
    return DEVICE if engine.reads == "device" else MOUNT


def origin_for(engine):
    """A repository engine tags each backup with its origin (engines.restic)."""
    return {"origin": "vg0/data"} if engine.repository else {}


def target_for(engine):
    return TARGET_DEVICE if engine.restore_makes_filesystem else TARGET_MOUNT


def every_argv(engine, fstype, archive, source, target, options=None):
    options = options or {}
    return [
        engine.version_argv(fstype),
        engine.backup_argv(source, archive, fstype, options, **origin_for(engine)),
        engine.verify_argv(archive, fstype),
        engine.restore_argv(archive, target, fstype, options),
    ]


# --- registry ---------------------------------------------------------------------------


def test_engines_with_all_eight_are_registered_under_their_own_names():
    assert list(ENGINES) == ["fsarchiver", "tar", "dar", "rsync", "dd", "partclone", "restic", "borg"]
    assert all(engine.name == name for name, engine in ENGINES.items())


@pytest.mark.parametrize("name", ["fsarchiver", "tar", "dar", "rsync", "dd", "partclone"])
def test_get_engine_with_known_name_returns_that_engine(name):
    assert get_engine(name) is ENGINES[name]


def test_get_engine_with_unknown_name_raises_usage_error_naming_the_known_engines():
    with pytest.raises(UsageError) as raised:
        get_engine("clonezilla")
    message = str(raised.value)
    assert "clonezilla" in message
    assert all(name in message for name in ENGINES)


@pytest.mark.parametrize(
    "name, level, reads, makes_filesystem, archive_name",
    [
        ("fsarchiver", "file", "device", True, "filesystem.fsa"),
        ("tar", "file", "mount", False, "filesystem.tar.zst"),
        ("dar", "file", "mount", False, "filesystem.1.dar"),
        ("rsync", "file", "mount", False, "tree"),
        ("dd", "block", "device", True, "device.img.zst"),
        ("partclone", "block", "device", True, "filesystem.pcl.zst"),
    ],
)
def test_engine_with_each_name_declares_level_source_restore_and_archive(
    name, level, reads, makes_filesystem, archive_name
):
    engine = ENGINES[name]
    assert (engine.level, engine.reads, engine.restore_makes_filesystem, engine.archive_name) == (
        level, reads, makes_filesystem, archive_name,
    )


@pytest.mark.parametrize("name, unmounts_first", [
    ("fsarchiver", False), ("tar", False), ("dar", False), ("rsync", False), ("dd", True), ("partclone", True),
])
def test_unmounts_before_reading_only_for_block_engines(name, unmounts_first):
    # fsarchiver reads through the snapshot's read-only mount, warm from the content digest
    assert unmounts_before_reading(ENGINES[name]) is unmounts_first


# --- options ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fsarchiver", "tar", "dd", "partclone"])
def test_resolve_options_with_nothing_given_defaults_to_zstd_level_3_and_2_threads(name):
    assert ENGINES[name].resolve_options({}) == {"zstd_level": "3", "threads": "2"}


def test_resolve_options_with_dar_has_a_level_but_no_threads():
    # Debian's dar is built without libthreadar: there is nothing a threads option could set.
    assert ENGINES["dar"].resolve_options({}) == {"zstd_level": "3"}
    with pytest.raises(UsageError):
        ENGINES["dar"].resolve_options({"threads": "4"})


def test_resolve_options_with_rsync_has_no_options_and_does_not_compress():
    assert ENGINES["rsync"].resolve_options({}) == {}
    assert ENGINES["rsync"].compresses is False
    assert all(engine.compresses for name, engine in ENGINES.items() if name != "rsync")


@pytest.mark.parametrize("name", list(ENGINES))
def test_resolve_options_with_unknown_option_raises_usage_error_naming_it(name):
    with pytest.raises(UsageError) as raised:
        ENGINES[name].resolve_options({"compression": "9"})
    assert "compression" in str(raised.value)


@pytest.mark.parametrize(
    "option, value, allowed",
    [
        ("zstd_level", "0", "1-19"), ("zstd_level", "20", "1-19"), ("zstd_level", "fast", "1 to 19"),
        ("zstd_level", "-3", "1 to 19"), ("threads", "0", "1-64"), ("threads", "65", "1-64"),
        ("threads", "2.5", "1 to 64"),
    ],
)
def test_resolve_options_with_out_of_range_or_non_integer_value_raises_usage_error_with_range(
    option, value, allowed
):
    with pytest.raises(UsageError) as raised:
        ENGINES["tar"].resolve_options({option: value})
    assert allowed in str(raised.value) and option in str(raised.value)


def test_integer_range_with_value_outside_raises_value_error_with_the_allowed_range():
    with pytest.raises(ValueError, match="allowed 1-19"):
        IntegerRange(1, 19)("22")
    assert IntegerRange(1, 19)(" 19 ") == 19


def test_backup_argv_with_options_given_uses_them_everywhere():
    options = {"zstd_level": "19", "threads": "8"}
    assert ENGINES["fsarchiver"].backup_argv(DEVICE, "/a/filesystem.fsa", "ext4", options)[1:3] == ["-Z19", "-j8"]
    assert ENGINES["tar"].backup_argv(MOUNT, "/a/filesystem.tar.zst", "ext4", options)[:3] == [
        "env", "ZSTD_CLEVEL=19", "ZSTD_NBTHREADS=8",
    ]
    assert "-zzstd:19" in ENGINES["dar"].backup_argv(MOUNT, "/a/filesystem.1.dar", "ext4", {"zstd_level": "19"})
    assert ENGINES["dd"].backup_argv(DEVICE, "/a/device.img.zst", "ext4", options)[-2:] == ["19", "8"]
    assert ENGINES["partclone"].backup_argv(DEVICE, "/a/filesystem.pcl.zst", "xfs", options)[-2:] == ["19", "8"]


def test_backup_argv_with_invalid_option_raises_before_building_anything():
    with pytest.raises(UsageError, match="1-19"):
        ENGINES["dd"].backup_argv(DEVICE, "/a/device.img.zst", "ext4", {"zstd_level": "99"})


# --- common checks ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ENGINES))
def test_backup_argv_with_unsupported_filesystem_raises_usage_error_naming_supported_ones(name):
    engine = ENGINES[name]
    with pytest.raises(UsageError) as raised:
        engine.backup_argv(source_for(engine), archive_for(engine), "btrfs", {}, **origin_for(engine))
    assert "btrfs" in str(raised.value) and "xfs" in str(raised.value)


@pytest.mark.parametrize("name", SET_ENGINES)
def test_backup_argv_with_relative_paths_raises_usage_error(name):
    engine = ENGINES[name]
    with pytest.raises(UsageError, match="absolute"):
        engine.backup_argv(source_for(engine), engine.archive_name, "ext4", {})
    with pytest.raises(UsageError, match="absolute"):
        engine.backup_argv("-snap", archive_for(engine), "ext4", {})


@pytest.mark.parametrize("name", SET_ENGINES)
@pytest.mark.parametrize("fstype", FILESYSTEMS)
def test_every_argv_with_each_engine_and_filesystem_is_a_list_of_strings(name, fstype):
    engine = ENGINES[name]
    for argv in every_argv(engine, fstype, archive_for(engine), source_for(engine), target_for(engine)):
        assert isinstance(argv, list) and argv and all(isinstance(word, str) for word in argv)


@pytest.mark.parametrize("name", SET_ENGINES)
@pytest.mark.parametrize("fstype", FILESYSTEMS)
def test_every_argv_with_hostile_paths_keeps_them_out_of_shell_scripts(name, fstype):
    engine = ENGINES[name]
    hostile = "/srv/it's \"a\" $(reboot); `id` & dir"
    archive = archive_for(engine, hostile)
    source = hostile + "/src" if engine.reads == "mount" else "/dev/vg0/$(reboot)"
    target = hostile + "/target" if not engine.restore_makes_filesystem else "/dev/vg0/x;reboot"
    options = {"zstd_level": "7"} if engine.options else {}
    for argv in every_argv(engine, fstype, archive, source, target, options):
        if argv[0] in ("sh", "bash"):
            assert argv[1] == "-c" and argv[2] in CONSTANT_SCRIPTS, "scripts are module constants"
            assert argv[2].startswith(PIPELINE_PROLOGUE) and argv[0] == "bash", "pipelines need pipefail"
            assert argv[3] == "bash", "$0 comes before the parameters"
            for value in (archive, source, target, "7"):
                assert value not in argv[2]
        else:
            # No shell in between: no word may be a script that some tool hands to sh
            # (tar runs --use-compress-program through /bin/sh -c).
            assert not any(word.startswith("--use-compress-program") for word in argv)
    shell_words = [word for argv in every_argv(engine, fstype, archive, source, target) for word in argv[4:]
                   if argv[0] == "bash"]
    for word in shell_words:
        assert word in (archive, source, target, "3", "2", partclone_module.PARTCLONE_TOOL[fstype]), word


def test_every_script_with_parameters_refers_to_them_only_as_quoted_positionals():
    for script in CONSTANT_SCRIPTS:
        assert len(re.findall(r"\$", script)) == len(re.findall(r'"\$[1-9]"', script)), script


# --- fsarchiver -------------------------------------------------------------------------


@pytest.mark.parametrize("fstype", FILESYSTEMS)
def test_backup_argv_with_fsarchiver_saves_the_device_with_zstd_and_threads(fstype):
    argv = ENGINES["fsarchiver"].backup_argv(DEVICE, "/a/filesystem.fsa", fstype, {})
    assert argv == ["fsarchiver", "-Z3", "-j2", "savefs", "/a/filesystem.fsa", DEVICE]
    # -z is the deprecated legacy compressor; -o would overwrite; -A/-a are not needed
    assert not {"-o", "-A", "-a"} & set(argv) and not any(word.startswith("-z") for word in argv)


def test_verify_argv_with_fsarchiver_reads_archive_info():
    argv = ENGINES["fsarchiver"].verify_argv("/a/filesystem.fsa", "xfs")
    assert argv == ["fsarchiver", "archinfo", "/a/filesystem.fsa"]


def test_restore_argv_with_fsarchiver_restores_filesystem_0_onto_the_device():
    argv = ENGINES["fsarchiver"].restore_argv("/a/filesystem.fsa", TARGET_DEVICE, "xfs", {"threads": "4"})
    assert argv == ["fsarchiver", "-j4", "restfs", "/a/filesystem.fsa", f"id=0,dest={TARGET_DEVICE}"]


@pytest.mark.parametrize("target", ["/dev/vg0/a,mkfs=ext2", "/dev/disk/by-id/x=y"])
def test_restore_argv_with_fsarchiver_and_separator_in_target_raises_usage_error(target):
    with pytest.raises(UsageError, match="','"):
        ENGINES["fsarchiver"].restore_argv("/a/filesystem.fsa", target, "ext4", {})


def test_tools_with_fsarchiver_include_the_mkfs_restfs_runs():
    assert ENGINES["fsarchiver"].tools("xfs") == ["fsarchiver", "mkfs.xfs"]
    assert ENGINES["fsarchiver"].tools("ext3") == ["fsarchiver", "mkfs.ext3"]


# --- tar --------------------------------------------------------------------------------


def test_backup_argv_with_tar_keeps_metadata_and_passes_level_through_the_environment():
    argv = ENGINES["tar"].backup_argv(MOUNT, "/a/filesystem.tar.zst", "ext4", {"zstd_level": "5", "threads": "3"})
    assert argv[:5] == ["env", "ZSTD_CLEVEL=5", "ZSTD_NBTHREADS=3", "tar", "--create"]
    for flag in ("--zstd", "--file=/a/filesystem.tar.zst", "--format=posix", "--xattrs", "--xattrs-include=*",
                 "--acls", "--numeric-owner", "--one-file-system", "--sparse", f"--directory={MOUNT}"):
        assert flag in argv
    assert argv[-1] == "."


def test_verify_argv_with_tar_lists_everything_without_printing_the_listing():
    assert ENGINES["tar"].verify_argv("/a/filesystem.tar.zst", "xfs") == [
        "tar", "--list", "--zstd", "--file=/a/filesystem.tar.zst", "--index-file=/dev/null",
    ]


def test_restore_argv_with_tar_preserves_owners_modes_xattrs_and_acls():
    argv = ENGINES["tar"].restore_argv("/a/filesystem.tar.zst", TARGET_MOUNT, "ext4", {})
    assert argv[:3] == ["tar", "--extract", "--zstd"]
    for flag in ("--same-owner", "--preserve-permissions", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                 "--acls", f"--directory={TARGET_MOUNT}"):
        assert flag in argv


# --- dar --------------------------------------------------------------------------------


def test_backup_argv_with_dar_passes_the_basename_without_slice_suffix():
    argv = ENGINES["dar"].backup_argv(MOUNT, "/a/filesystem.1.dar", "ext4", {"zstd_level": "6"})
    assert argv[:5] == ["dar", "-c", "/a/filesystem", "-R", MOUNT]
    assert "-zzstd:6" in argv and "-Q" in argv and "-N" in argv and "-M" in argv
    assert "-s" not in argv, "one slice"


def test_verify_argv_with_dar_tests_the_archive_non_interactively():
    assert ENGINES["dar"].verify_argv("/a/filesystem.1.dar", "xfs") == ["dar", "-t", "/a/filesystem", "-Q", "-N"]


def test_restore_argv_with_dar_extracts_into_the_target_without_asking():
    argv = ENGINES["dar"].restore_argv("/a/filesystem.1.dar", TARGET_MOUNT, "xfs", {})
    assert argv[:5] == ["dar", "-x", "/a/filesystem", "-R", TARGET_MOUNT]
    assert {"-w", "-Q", "-N"} <= set(argv)
    assert not any(word.startswith("-O") for word in argv), "-O would drop ownership"


@pytest.mark.parametrize("archive", ["/a/filesystem.dar", "/a/filesystem.2.dar", "/a/.1.dar"])
def test_backup_argv_with_dar_and_archive_not_ending_in_slice_suffix_raises_usage_error(archive):
    with pytest.raises(UsageError, match=r"\.1\.dar"):
        ENGINES["dar"].backup_argv(MOUNT, archive, "ext4", {})


def test_parse_version_with_dar_output_finds_the_version_line():
    output = "\n dar version 2.7.8, Copyright (C) 2002-2022 Denis Corbin\n   Long options support : YES\n"
    assert ENGINES["dar"].parse_version(output) == "dar version 2.7.8"


# --- rsync ------------------------------------------------------------------------------


def test_backup_argv_with_rsync_copies_contents_with_trailing_slashes():
    argv = ENGINES["rsync"].backup_argv(MOUNT, "/a/tree", "ext4", {})
    assert argv == ["rsync", "-aHAXS", "--numeric-ids", "--one-file-system", MOUNT + "/", "/a/tree/"]


def test_verify_argv_with_rsync_reads_every_file():
    assert ENGINES["rsync"].verify_argv("/a/tree", "ext4") == [
        "find", "/a/tree", "-type", "f", "-exec", "sha256sum", "{}", "+",
    ]


def test_restore_argv_with_rsync_copies_the_tree_back_into_the_target():
    argv = ENGINES["rsync"].restore_argv("/a/tree", TARGET_MOUNT + "/", "xfs", {})
    assert argv == ["rsync", "-aHAXS", "--numeric-ids", "/a/tree/", TARGET_MOUNT + "/"]


def test_parse_version_with_rsync_output_collapses_spaces():
    assert ENGINES["rsync"].parse_version("rsync  version 3.2.7  protocol version 31\n") == (
        "rsync version 3.2.7 protocol version 31"
    )


# --- dd ---------------------------------------------------------------------------------


def test_backup_argv_with_dd_pipes_the_device_into_zstd_under_pipefail():
    argv = ENGINES["dd"].backup_argv(DEVICE, "/a/device.img.zst", "xfs", {})
    assert argv == ["bash", "-c", dd_module.BACKUP_SCRIPT, "bash", DEVICE, "/a/device.img.zst", "3", "2"]
    script = dd_module.BACKUP_SCRIPT
    assert "set -o errexit -o nounset -o pipefail" in script
    assert 'dd if="$1" bs=4M iflag=direct status=none' in script
    assert 'zstd --quiet --check -"$3" -T"$4" -o "$2"' in script


def test_verify_argv_with_dd_tests_the_zstd_checksum():
    assert ENGINES["dd"].verify_argv("/a/device.img.zst", "ext4") == ["zstd", "--test", "--quiet", "/a/device.img.zst"]


def test_restore_argv_with_dd_writes_every_block_and_syncs():
    argv = ENGINES["dd"].restore_argv("/a/device.img.zst", TARGET_DEVICE, "ext4", {})
    assert argv == ["bash", "-c", dd_module.RESTORE_SCRIPT, "bash", "/a/device.img.zst", TARGET_DEVICE]
    assert 'dd of="$2" bs=4M iflag=fullblock conv=fsync status=none' in dd_module.RESTORE_SCRIPT
    assert "--stdout" in dd_module.RESTORE_SCRIPT, "zstd -o DEVICE would write sparsely"


needs_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "dd", "zstd")), reason="needs bash, dd and zstd"
)


@needs_tools
def test_restore_argv_with_dd_and_missing_archive_fails_although_dd_succeeds(tmp_path):
    target = tmp_path / "target.img"
    target.write_bytes(b"\0" * 4096)
    argv = ENGINES["dd"].restore_argv(str(tmp_path / "missing.img.zst"), str(target), "ext4", {})
    result = Host().run(argv, check=False)
    assert result.returncode != 0, "pipefail: zstd's failure is the pipeline's"


@needs_tools
def test_backup_argv_with_dd_and_missing_device_fails_and_never_overwrites(tmp_path):
    argv = ENGINES["dd"].backup_argv(str(tmp_path / "no-such-device"), str(tmp_path / "a.zst"), "ext4", {})
    assert Host().run(argv, check=False).returncode != 0
    existing = tmp_path / "existing.zst"
    existing.write_bytes(b"keep")
    argv = ENGINES["dd"].backup_argv("/dev/null", str(existing), "ext4", {})
    assert Host().run(argv, check=False).returncode != 0
    assert existing.read_bytes() == b"keep"


# --- partclone --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fstype, tool",
    [("ext2", "partclone.ext2"), ("ext3", "partclone.ext3"), ("ext4", "partclone.ext4"), ("xfs", "partclone.xfs")],
)
def test_backup_argv_with_partclone_uses_the_tool_of_the_filesystem(fstype, tool):
    engine = ENGINES["partclone"]
    argv = engine.backup_argv(DEVICE, "/a/filesystem.pcl.zst", fstype, {})
    assert argv == [
        "bash", "-c", partclone_module.BACKUP_SCRIPT, "bash", tool, DEVICE, "/a/filesystem.pcl.zst", "3", "2",
    ]
    assert engine.tools(fstype) == ["bash", tool, "partclone.chkimg", "zstd"]
    assert engine.restore_argv("/a/p", TARGET_DEVICE, fstype, {})[4] == tool
    assert engine.version_argv(fstype)[4:] == [tool]


def test_backup_argv_with_partclone_clones_to_stdout_with_an_explicit_log():
    script = partclone_module.BACKUP_SCRIPT
    assert '"$1" --clone --source "$2" --output - --checksum-mode=1 --logfile /dev/null --quiet' in script
    assert '| zstd --quiet --check -"$4" -T"$5" -o "$3"' in script


def test_verify_argv_with_partclone_checks_the_image_from_stdin():
    argv = ENGINES["partclone"].verify_argv("/a/filesystem.pcl.zst", "xfs")
    assert argv == ["bash", "-c", partclone_module.VERIFY_SCRIPT, "bash", "/a/filesystem.pcl.zst"]
    assert "partclone.chkimg --source - --logfile /dev/null" in partclone_module.VERIFY_SCRIPT


def test_restore_argv_with_partclone_restores_from_stdin_onto_the_device():
    assert '"$1" --restore --source - --output "$3" --logfile /dev/null' in partclone_module.RESTORE_SCRIPT
    assert partclone_module.RESTORE_SCRIPT.startswith(PIPELINE_PROLOGUE)
