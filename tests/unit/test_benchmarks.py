"""The benchmark's arithmetic, attribution and report: the parts that run without the lab."""

from __future__ import annotations

import random

import pytest

from benchmarks.breakdown import MONITORING, breakdown
from benchmarks.fill import fill
from benchmarks.hashes import TOOLS, fastest, hashes_table, many_files_argv, one_file_argv
from benchmarks.overhead import Contender, overhead_findings
from benchmarks.report import Table, render
from benchmarks.stats import fit_line, pair_ratios, sample
from benchmarks.targets import REMOTE_BEFORE, Remote, target_rows, targets_table
from lvmkit.archive.archive_set import checksum_argv
from lvmkit.archive.digest import digest_commands
from lvmkit.core.journal import CommandCount, JournalEntry
from lvmkit.core.runs import private
from lvmkit.lvm.watch import read_argv


def entry(argv: list[str], seconds: float) -> JournalEntry:
    return JournalEntry(host="local", argv=argv, changes_state=False, planned=False, start="", end="",
                        duration_s=seconds, returncode=0, stdout="", stderr="")


def test_sample_with_odd_runs_gives_middle_value_and_range():
    times = sample([3.0, 1.0, 2.0])
    assert (times.median, times.low, times.high, times.n) == (2.0, 1.0, 3.0, 3)
    assert times.seconds() == "2.00 s (1.00-3.00)"


def test_sample_with_no_value_is_refused():
    with pytest.raises(ValueError):
        sample([])


def test_pair_ratios_divide_run_by_run_not_median_by_median():
    ratios = pair_ratios(sample([11.0, 22.0, 30.0]), sample([10.0, 20.0, 30.0]))
    assert ratios.values == (1.1, 1.1, 1.0)
    assert ratios.times() == "1.100x (1.000-1.100)"


def test_pair_ratios_with_unequal_runs_are_refused():
    with pytest.raises(ValueError, match="as many runs"):
        pair_ratios(sample([1.0, 2.0]), sample([1.0]))


def test_fit_line_on_exact_line_finds_its_parameters_and_no_residual():
    line = fit_line([64, 128, 256], [2 + 0.1 * x for x in (64, 128, 256)])
    assert line.intercept == pytest.approx(2.0)
    assert line.slope == pytest.approx(0.1)
    assert line.worst_residual == pytest.approx(0.0, abs=1e-9)


def test_fit_line_on_bent_points_reports_the_bend():
    line = fit_line([64, 128, 256], [10.0, 10.0, 40.0])
    assert line.worst_residual > 0.2


def test_breakdown_sorts_journal_into_parts_and_keeps_monitoring_apart():
    (digest,) = digest_commands("/run/lvmkit/x")
    journal = [
        entry(["lvs", "--reportformat", "json"], 0.25),
        entry(["lvcreate", "--snapshot", "-n", "s", "vg/lv"], 0.5),
        entry(read_argv("/dev/vg/s"), 0.2),
        entry(["mount", "-o", "ro", "/dev/vg/s", "/run/lvmkit/x"], 0.1),
        entry(digest, 5.0),
        entry(private(["fsarchiver", "savefs", "/b/a.fsa", "/dev/vg/s"]), 6.0),
        entry(checksum_argv("/b", ["a.fsa"]), 1.0),
        entry(["env", "--chdir=/b", "sha256sum", "--", "a.fsa"], 0.5),  # as lvmkit before did it
        entry(["lvremove", "--yes", "vg/s"], 0.5),
    ]
    parts = breakdown(journal, wall_s=15.0)
    assert parts["preflight"] == 0.25
    assert parts["snapshot"] == 1.0
    assert parts["content digest"] == 5.0
    assert parts["engine"] == 6.0
    assert parts["checksums"] == 1.5
    assert parts["other commands"] == 0.1
    assert parts[MONITORING] == 0.2
    assert parts["lvmkit itself"] == pytest.approx(15.0 - 13.85)


def test_table_with_wrong_number_of_cells_is_refused():
    table = Table("t", "m", ["a", "b"])
    with pytest.raises(ValueError, match="2 columns"):
        table.add("only one")


def test_render_puts_command_machine_method_rows_and_findings_in_order():
    table = Table("1. x", "How it was measured.", ["what", "time"])
    table.add("seed | script", "1.00 s")
    table.findings.append("it is linear")
    text = render(intro="Intro.", machine=["host: a CPU"], command="benchmarks/run", tables=[table])
    assert text.index("benchmarks/run") < text.index("host: a CPU") < text.index("How it was measured.")
    assert "| seed \\| script | 1.00 s |" in text
    assert "- it is linear" in text


@pytest.mark.parametrize("shape, files", [("large-files", 4), ("small-files", None)])
def test_fill_writes_exactly_the_size_asked_and_the_same_data_twice(tmp_path, shape, files):
    first, second = tmp_path / "a", tmp_path / "b"
    made = fill(first, shape, 2, seed=3)
    assert made == fill(second, shape, 2, seed=3)
    written = sorted(p for p in first.rglob("*") if p.is_file())
    assert made == (len(written), 2 * 1024 * 1024)
    assert sum(p.stat().st_size for p in written) == 2 * 1024 * 1024
    if files is not None:
        assert len(written) == files
    sample_file = random.Random(0).choice(written)
    assert sample_file.read_bytes() == (second / sample_file.relative_to(first)).read_bytes()


def contender(label: str, seconds: list[float], tree=None) -> Contender:
    parts = dict.fromkeys(("preflight", "snapshot", "content digest", "engine", "checksums", "other commands",
                           "lvmkit itself", MONITORING), 1.0)
    return Contender(label, tree, list(seconds), [parts for _ in seconds])


def points(script_per_mib: float, lvmkit_fixed: float, lvmkit_per_mib: float):
    return [(mib, mib * 60, contender("seed", [1.0 + script_per_mib * mib] * 3),
             contender("lvmkit", [lvmkit_fixed + lvmkit_per_mib * mib] * 3, tree="x"))
            for mib in (64, 128, 256)]


def test_overhead_findings_when_lvmkit_costs_more_per_mib_say_no_size_meets_the_target():
    findings = overhead_findings(points(0.07, 9.0, 0.09), native_digest_share=0.54)
    assert "**not met**" in findings[0]
    assert "no size brings lvmkit within 15%" in findings[-1]
    assert "54% of fsarchiver's time" in findings[-1]


def test_overhead_findings_when_only_fixed_costs_differ_give_the_size_from_which_the_target_holds():
    findings = overhead_findings(points(0.07, 9.0, 0.07), native_digest_share=0.5)
    # 9 + 0.07 x <= 1.15 (1 + 0.07 x)  =>  x >= (9 - 1.15) / (0.0805 - 0.07) = 748 MiB
    assert "from about 748 MiB on" in findings[-1]


def racer(label, seconds, commands=()):
    racer = Contender(label)
    racer.seconds = list(seconds)
    racer.commands = [CommandCount(queries=q, changes=c, monitoring=5) for q, c in commands]
    return racer


def test_target_rows_judge_each_target_from_pair_ratios_and_medians():
    seed = racer("seed", [10.0, 10.0, 10.0])
    now = racer("now", [11.0, 12.0, 11.5], [(5, 9), (5, 10), (5, 9)])
    before = racer("before", [20.0, 21.0, 19.0], [(9, 16)] * 3)
    remote_seed = racer("seed", [3.0, 3.0, 3.0])
    remotes = [Remote("now", seconds=[6.0, 9.0, 7.0], commands=[14, 14, 14])]
    rows = target_rows((seed, now, before), (remote_seed, remotes), digest_share=0.2, digest_share_before=0.5)
    assert [(row[2], row[3]) for row in rows] == [
        ("1.150x (1.100-1.200)", True),       # median ratio 1.15: met at the limit
        ("2.333x (2.000-3.000)", True),
        ("20%", True),
        ("14", True),
    ]
    assert [row[1] for row in rows] == ["2.000x (1.900-2.100)", REMOTE_BEFORE, "50%", "25"]


def test_target_rows_with_targets_missed_say_so():
    seed = racer("seed", [10.0])
    now = racer("now", [12.0], [(8, 16)])
    remote_seed = racer("seed", [3.0])
    remotes = [Remote("now", seconds=[9.0], commands=[24]), Remote("before", seconds=[15.0], commands=[35])]
    rows = target_rows((seed, now, None), (remote_seed, remotes), digest_share=0.3, digest_share_before=None)
    assert [row[3] for row in rows] == [False, False, False, False]
    assert rows[1][1] == "5.000x"  # the baseline raced in the same run, not the figure from before
    assert targets_table(rows).rows[0][-1] == "**no**"


def test_hashes_table_gives_each_tool_against_sha256sum_per_place_and_job():
    times = {(job, tool): [base * factor] * 2 for job, base in (("many", 4.0), ("one", 2.0))
             for tool, factor in zip(TOOLS, (1.0, 0.5, 0.25, 2.0), strict=True)}
    table = hashes_table([("lab", times)], "256 MiB", "64 MiB", runs=2)
    assert len(table.rows) == 2 * len(TOOLS)
    assert table.rows[1][2:] == ["b2sum", "2.00 s (2.00-2.00)", "0.500x (0.500-0.500)"]
    assert fastest(times, "many") == "openssl sha256"


def test_hash_tool_argvs_pass_names_as_parameters():
    assert many_files_argv("b2sum", "/srv/x y")[4:] == ["/srv/x y", "", "b2sum", "-z"]
    assert one_file_argv("openssl sha256", "/b/a.fsa")[5:] == ["/b/a.fsa", "openssl", "dgst", "-sha256", "-r"]
