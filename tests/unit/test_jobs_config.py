"""lvmkit.toml: validation messages (file, job, key, line), effective settings and their
sources, and a plain `lvmkit backup` taking [defaults] with a given flag winning."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lvmkit import cli
from lvmkit.jobs import cli as jobs_cli
from lvmkit.jobs import config as config_module
from lvmkit.jobs import settings
from lvmkit.jobs.config import ConfigError

GOOD = textwrap.dedent("""\
    [defaults]
    host = "lab"
    dest = "/backups"
    engine = "tar"
    retention = { last = 3, daily = 7 }

    [jobs.web]
    origin = "vg0/www"
    engine_options = { zstd_level = 3 }
    after = ["verify", "prune"]

    [jobs.db]
    group = ["vg0/db", "vg0/uploads"]
    dest = "/backups/db"
    snapshot_size = "2G"
    """)


def parse(text: str):
    return config_module.parse(textwrap.dedent(text), "/etc/lvmkit/lvmkit.toml")


def backup_defaults() -> dict:
    return cli.build_parser().parse_args(["job", "list"]).flag_defaults


def test_parse_of_a_good_file_gives_defaults_and_jobs():
    loaded = parse(GOOD)
    assert loaded.defaults["dest"] == "/backups"
    assert sorted(loaded.jobs) == ["db", "web"]


def test_parse_with_an_unknown_key_names_file_line_job_and_key():
    with pytest.raises(ConfigError) as caught:
        parse(GOOD.replace('origin = "vg0/www"', 'origin = "vg0/www"\nengnie = "dd"'))
    assert str(caught.value).startswith("/etc/lvmkit/lvmkit.toml:9: [jobs.web] key 'engnie': unknown key")


def test_parse_with_a_wrong_type_names_the_key_and_its_line():
    with pytest.raises(ConfigError, match=r"lvmkit.toml:5: \[defaults\] key 'retention.daily': 'seven' is not of type"):
        parse(GOOD.replace("daily = 7", 'daily = "seven"'))


def test_parse_with_an_unknown_engine_says_which_there_are():
    with pytest.raises(ConfigError, match=r":4: \[defaults\] key 'engine': 'zip' is not one of \['fsarchiver'"):
        parse(GOOD.replace('engine = "tar"', 'engine = "zip"'))


def test_parse_of_a_job_without_a_destination_anywhere_is_refused():
    with pytest.raises(ConfigError, match=r":1: \[jobs.solo\]: no destination: give dest"):
        parse('[jobs.solo]\norigin = "vg0/a"\n')


def test_parse_of_a_job_with_both_origin_and_group_is_refused():
    with pytest.raises(ConfigError, match=r"\[jobs.x\]: give either origin .* not both"):
        parse('[jobs.x]\norigin = "vg0/a"\ngroup = ["vg0/b"]\ndest = "/b"\n')


def test_parse_of_two_jobs_writing_one_destination_with_one_prefix_is_refused():
    text = ('[defaults]\ndest = "/b"\n[jobs.a]\norigin = "vg0/a"\nname_prefix = "p"\n'
            '[jobs.b]\norigin = "vg0/b"\nname_prefix = "p"\n')
    with pytest.raises(ConfigError, match=r":6: \[jobs.b\] key 'dest': job 'a' writes to /b on local with the same name "
                                          r"prefix 'p'"):
        parse(text)


def test_parse_of_two_jobs_with_one_destination_and_their_own_prefixes_is_fine():
    parse('[defaults]\ndest = "/b"\n[jobs.a]\norigin = "vg0/a"\n[jobs.b]\norigin = "vg0/b"\n')


def test_parse_of_broken_toml_gives_tomllibs_line():
    with pytest.raises(ConfigError, match=r"lvmkit.toml: not valid TOML: .*line 2"):
        parse('[jobs.a]\norigin = \n')


def test_load_of_a_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file; write one"):
        config_module.load(str(tmp_path / "none.toml"))
    assert config_module.load(str(tmp_path / "none.toml"), required=False) is None


def test_effective_settings_say_where_each_came_from():
    effective = settings.effective(parse(GOOD), "web", backup_defaults())
    assert effective["engine"] == settings.Setting("tar", settings.DEFAULTS_TABLE)
    assert effective["engine_options"] == settings.Setting({"zstd_level": 3}, settings.JOB)
    assert effective["warn_at"] == settings.Setting(80.0, settings.DEFAULT)
    assert effective["name_prefix"].value == "web"
    assert "retention" in settings.render("web", effective)


def test_every_setting_flag_of_backup_has_a_key_in_the_schema():
    schema = config_module._schema()["$defs"]["settings"]["properties"]
    assert set(backup_defaults()) <= set(schema)


def test_job_show_prints_values_and_sources(tmp_path, capsys):
    path = tmp_path / "lvmkit.toml"
    path.write_text(GOOD)
    assert cli.main(["job", "show", "--config", str(path), "db"]) == 0
    out = capsys.readouterr().out
    assert "snapshot_size" in out and "2G" in out and "the job" in out and "[defaults]" in out


def test_job_run_with_a_bad_file_exits_2_and_runs_nothing(tmp_path, capsys):
    path = tmp_path / "lvmkit.toml"
    path.write_text(GOOD.replace("[jobs.db]", "[jobs.db]\nbogus = 1"))
    assert cli.main(["job", "run", "--all", "--config", str(path)]) == 2
    assert "[jobs.db] key 'bogus': unknown key" in capsys.readouterr().err


def test_backup_takes_defaults_from_the_file_and_a_given_flag_wins(tmp_path):
    path = tmp_path / "lvmkit.toml"
    path.write_text('[defaults]\ndest = "/backups"\nengine = "tar"\nwarn_at = 70.0\nengine_options = { zstd_level = 5 }\n')
    args = cli.build_parser().parse_args(["backup", "vg0/a", "--config", str(path), "--engine", "dd"])
    jobs_cli.apply_config_defaults(args)
    assert args.engine == "dd"  # given: wins
    assert (args.dest, args.warn_at, args.engine_option) == ("/backups", 70.0, ["zstd_level=5"])  # from the file
    assert (args.extend_at, args.autoextend, args.snapshot_size) == (60.0, False, None)  # lvmkit's defaults
    assert args.backup_handler is cli.cmd_backup


def test_backup_without_a_file_keeps_lvmkits_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv(config_module.CONFIG_ENV, str(tmp_path / "absent.toml"))
    args = cli.build_parser().parse_args(["backup", "vg0/a", "--dest", "/b"])
    jobs_cli.apply_config_defaults(args)
    assert (args.dest, args.engine, args.engine_option, args.hook_timeout) == ("/b", "fsarchiver", [], 60.0)


def test_backup_without_dest_anywhere_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv(config_module.CONFIG_ENV, str(tmp_path / "absent.toml"))
    assert cli.main(["backup", "vg0/a"]) == 2


def test_backup_with_engine_options_given_keeps_them_and_wins_over_the_file(tmp_path):
    """--engine-option appends: its default must be something it can append to."""
    path = tmp_path / "lvmkit.toml"
    path.write_text('[defaults]\ndest = "/backups"\nengine_options = { zstd_level = 5 }\n')
    args = cli.build_parser().parse_args(["backup", "vg0/a", "--config", str(path), "--engine-option",
                                          "zstd_level=19", "--engine-option", "threads=2"])
    jobs_cli.apply_config_defaults(args)
    assert args.engine_option == ["zstd_level=19", "threads=2"]


def test_the_readmes_server_configuration_is_valid_and_complete(tmp_path):
    """The README shows a complete lvmkit.toml for a server: it must pass the schema as shown."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = "# /etc/lvmkit/lvmkit.toml"
    text = start + readme.split(f"```toml\n{start}", 1)[1].split("```", 1)[0]
    path = tmp_path / "lvmkit.toml"
    path.write_text(text)
    loaded = config_module.load(str(path))
    assert sorted(loaded.jobs) == ["app", "system", "www"]
    assert {"dest", "retention", "after", "metrics_dir", "notify"} <= set(loaded.defaults)


def test_parse_with_copy_to_on_another_host_is_accepted():
    loaded = parse(GOOD.replace('origin = "vg0/www"', 'origin = "vg0/www"\ncopy_to = "ssh://ops@vault.example:2222/copies"'))
    assert loaded.jobs["web"]["copy_to"] == "ssh://ops@vault.example:2222/copies"


@pytest.mark.parametrize("value, said", [
    ('"copies"', "does not match"),
    ('"ssh://vault.example"', "names no directory"),
    ('"ssh://vault.example/a/../b"', "holds '..'"),
])
def test_parse_with_a_bad_copy_to_names_the_job_and_key(value, said):
    with pytest.raises(ConfigError, match=r"\[jobs.web\] key 'copy_to'") as caught:
        parse(GOOD.replace('origin = "vg0/www"', f'origin = "vg0/www"\ncopy_to = {value}'))
    assert said in str(caught.value)
