"""The content digest against real files: a faithful copy digests equal, and each change shows."""

from __future__ import annotations

from lvmkit.archive.digest import compare, compute_digest
from tests.fixtures.record_digest import ODD_TREE_SCRIPT


def test_digest_of_a_cp_a_copy_is_equal_and_each_change_shows_as_its_path_and_field(lvm_host, scratch_volume):
    mountpoint = scratch_volume["mountpoint"]
    original, copy = f"{mountpoint}/dig_data", f"{mountpoint}/dig_copy"
    lvm_host.run(["cp", "-a", "/usr/share/zoneinfo", original], changes=True)
    # odd names (newline, non-UTF-8 bytes), hard links, a fifo, a device node, setuid, uid 1234
    lvm_host.run(["bash", "-c", ODD_TREE_SCRIPT, "bash", f"{original}/dig_odd"], changes=True)
    expected = compute_digest(lvm_host, original)
    assert expected.file_count > 500
    assert "dig_odd/caf\udce9" in {e.path for e in expected.entries}
    assert {e.path for e in expected.entries if e.link_group} >= {"dig_odd/link-a", "dig_odd/link-b"}

    lvm_host.run(["cp", "-a", original, copy], changes=True)
    copied = compute_digest(lvm_host, copy)
    assert compare(expected, copied).equal, compare(expected, copied).summary()
    assert copied == expected and copied.sha256 == expected.sha256

    candidates = [
        e.path for e in expected.entries
        if e.type == "regular" and e.link_group is None and e.size and e.mode == 0o644 and e.uid == 0
        and not e.path.startswith("dig_odd/")
    ]
    content, mode, owner = candidates[:3]
    # one byte: a NUL over the first byte ("TZif" or "#" in zoneinfo), length unchanged
    lvm_host.run(["dd", "if=/dev/zero", f"of={copy}/{content}", "bs=1", "count=1", "conv=notrunc", "status=none"],
                 changes=True)
    lvm_host.run(["chmod", "0600", f"{copy}/{mode}"], changes=True)
    lvm_host.run(["chown", "1234", f"{copy}/{owner}"], changes=True)

    comparison = compare(expected, compute_digest(lvm_host, copy))
    assert (comparison.missing, comparison.extra) == ((), ())
    assert {(c.path, c.fields) for c in comparison.changed} == {
        (content, ("hash",)), (mode, ("mode",)), (owner, ("uid",)),
    }, comparison.summary()
    assert "3 changed" in comparison.summary()


def test_digest_with_a_file_removed_and_one_added_reports_missing_and_extra(lvm_host, scratch_volume):
    tree = f"{scratch_volume['mountpoint']}/dig_tree"
    lvm_host.run(["bash", "-c", ODD_TREE_SCRIPT, "bash", tree], changes=True)
    expected = compute_digest(lvm_host, tree, jobs=1)
    lvm_host.run(["rm", "--", f"{tree}/hello.txt"], changes=True)
    lvm_host.run(["mkdir", f"{tree}/dig_new"], changes=True)
    comparison = compare(expected, compute_digest(lvm_host, tree, jobs=2))
    # the symlink to hello.txt dangles now, but a symlink's digest is its target: unchanged
    assert (comparison.missing, comparison.extra, comparison.changed) == (("hello.txt",), ("dig_new",), ())
