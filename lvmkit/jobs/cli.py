"""`lvmkit job list|show|check|run|install|uninstall`, `lvmkit prune`, and lvmkit.toml's
[defaults] for a plain `lvmkit backup`."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from lvmkit import logs
from lvmkit.core.errors import EXIT_FAILED, EXIT_OK, LvmkitError, UsageError, most_serious
from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.jobs import config as config_module
from lvmkit.jobs import requests, settings, units
from lvmkit.jobs.runner import retention_policy, run_job
from lvmkit.ops import prune as prune_module
from lvmkit.ops.retention import RULES, Policy
from lvmkit.runbooks.runner import default_records
from lvmkit.targets import connect
from lvmkit.terminal import Terminal, add_verbose, is_verbose

NOT_GIVEN = object()  # a backup flag's default, replaced by [defaults] or lvmkit's default


def add_commands(subparsers) -> None:
    """Add `job` and `prune`, and let `backup` take its defaults from lvmkit.toml."""
    backup_parser = subparsers.choices["backup"]
    flag_defaults = settings.backup_flag_defaults(backup_parser)
    _defaults_from_config(backup_parser)

    job = subparsers.add_parser("job", help="named backup jobs of lvmkit.toml: list, show, check, run, schedule")
    actions = job.add_subparsers(dest="job_command", required=True, metavar="ACTION")
    listing = _action(actions, "list", "the jobs of the configuration", cmd_job_list, flag_defaults)
    listing.add_argument("--json", action="store_true")
    show = _action(actions, "show", "a job's effective settings and where each came from", cmd_job_show, flag_defaults)
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true")
    check = _action(actions, "check", "validate the configuration and run every preflight; changes nothing",
                    cmd_job_check, flag_defaults)
    check.add_argument("name", metavar="NAME", nargs="?", help="one job (default: all)")
    run = _action(actions, "run", "run jobs one after another; a failed job does not stop the next",
                  cmd_job_run, flag_defaults)
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("name", metavar="NAME", nargs="?")
    which.add_argument("--all", action="store_true", help="every job of the configuration")
    install = _action(actions, "install", "write a systemd service and timer that run the job", cmd_job_install,
                      flag_defaults)
    install.add_argument("name", metavar="NAME")
    install.add_argument("--on-calendar", required=True, metavar="WHEN",
                         help="systemd calendar event: daily, hourly, 'Mon..Fri 02:30', ...")
    install.add_argument("--randomized-delay", default="30min", metavar="SPAN",
                         help="start up to this much later, to spread many servers (default 30min)")
    install.add_argument("--unit-dir", default=units.DEFAULT_UNIT_DIR, metavar="DIR",
                         help=f"where to write the units (default {units.DEFAULT_UNIT_DIR}, then enable the timer)")
    install.add_argument("--recorded", nargs="?", const=default_records(), default=None, metavar="DIR",
                         help="run it as the scheduled-job runbook, recorded and audited like a manual run "
                              f"(records in DIR, default {default_records()})")
    install.add_argument("--dry-run", action="store_true", help="print the units, write nothing")
    uninstall = _action(actions, "uninstall", "remove a job's systemd service and timer", cmd_job_uninstall,
                        flag_defaults)
    uninstall.add_argument("name", metavar="NAME")
    uninstall.add_argument("--unit-dir", default=units.DEFAULT_UNIT_DIR, metavar="DIR")

    prune = subparsers.add_parser("prune", help="remove the archive sets a retention policy no longer keeps")
    prune.add_argument("directory", metavar="DIR")
    prune.add_argument("--job", default=None, metavar="NAME",
                       help="only this job's sets, with its retention for the rules not given here")
    prune.add_argument("--config", default=None, metavar="FILE", help=f"lvmkit.toml (default {config_module.DEFAULT_CONFIG})")
    for rule in RULES:
        meaning = "the N newest sets" if rule == "last" else f"the newest set of each of the last N {rule} periods"
        prune.add_argument(f"--keep-{rule}", type=int, default=None, metavar="N", help=f"keep {meaning}")
    prune.add_argument("--prune-failed", action="store_true", help="also remove sets whose verification failed")
    prune.add_argument("--dry-run", action="store_true", help="list keep/remove with the rule, change nothing")
    prune.add_argument("--json", action="store_true")
    add_verbose(prune)
    prune.set_defaults(handler=cmd_prune, flag_defaults=flag_defaults)


def backup_flag_defaults() -> dict:
    """lvmkit's own default of each backup setting, as `lvmkit job` uses them (for a runbook)."""
    from lvmkit.cli import build_parser  # at call time: lvmkit.cli imports this module

    return build_parser().parse_args(["job", "list"]).flag_defaults


def _action(actions, name: str, help: str, handler, flag_defaults: dict):
    parser = actions.add_parser(name, help=help)
    parser.add_argument("--config", default=None, metavar="FILE",
                        help=f"lvmkit.toml (default ${config_module.CONFIG_ENV}, else {config_module.DEFAULT_CONFIG})")
    parser.set_defaults(handler=handler, flag_defaults=flag_defaults)
    return parser


# --- `lvmkit backup` with [defaults] --------------------------------------------------------


def _defaults_from_config(backup_parser) -> None:
    """Each setting flag of `backup` defaults to NOT_GIVEN; before cmd_backup runs, what is
    still NOT_GIVEN becomes [defaults]' value, else lvmkit's own default. A flag given wins."""
    backup_parser.add_argument("--config", default=None, metavar="FILE",
                               help=f"take what the command line does not give from [defaults] of FILE "
                                    f"(default {config_module.DEFAULT_CONFIG} if it exists)")
    own, appended = {}, []
    for action in backup_parser._actions:
        if action.option_strings and action.dest not in settings.NOT_SETTINGS:
            own[action.dest] = action.default
            if isinstance(action, argparse._AppendAction):
                # append adds to its default: it must start as None (a list would be shared,
                # NOT_GIVEN has no append); None stands for "not given" here.
                action.default = None
                appended.append(action.dest)
            else:
                action.default = NOT_GIVEN
            if action.dest == "dest":
                action.required = False  # it may come from [defaults]; checked when it runs
    backup_parser.set_defaults(handler=backup_with_defaults, backup_handler=backup_parser.get_default("handler"),
                               backup_flag_defaults=own, backup_appended_flags=appended)


def backup_with_defaults(args, journal: Journal) -> int:
    apply_config_defaults(args)
    return args.backup_handler(args, journal)


def apply_config_defaults(args) -> None:
    """Fill each flag not given from [defaults] of the file, else from lvmkit's default."""
    loaded = config_module.load(args.config, required=args.config is not None)
    defaults = loaded.defaults if loaded else {}
    for dest, default in args.backup_flag_defaults.items():
        value = getattr(args, dest)
        if value is NOT_GIVEN or (value is None and dest in args.backup_appended_flags):
            setattr(args, dest, _flag_value(dest, defaults, default))
    if args.dest is None:
        raise UsageError("backup: --dest DIR is needed (or dest in [defaults] of lvmkit.toml)")


def _flag_value(dest: str, defaults: dict, default):
    if dest == "engine_option":
        options = defaults.get("engine_options")
        return default if options is None else [f"{key}={value}" for key, value in options.items()]
    return defaults.get(dest, default)


# --- job ---------------------------------------------------------------------------------


def cmd_job_list(args, journal: Journal) -> int:
    loaded = config_module.load(args.config)
    rows = []
    for name in sorted(loaded.jobs):
        values = settings.values(settings.effective(loaded, name, args.flag_defaults))
        rows.append({"job": name, "what": requests.job_origin(values), "host": values["host"],
                     "dest": values["dest"], "engine": values["engine"], "after": values["after"]})
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no jobs in {loaded.path}")
    else:
        for row in rows:
            print(f"{row['job']}: {row['what']} on {row['host']} -> {row['dest']} ({row['engine']})"
                  + (f", then {', '.join(row['after'])}" if row["after"] else ""))
    return 0


def cmd_job_show(args, journal: Journal) -> int:
    loaded = config_module.load(args.config)
    effective = settings.effective(loaded, args.name, args.flag_defaults)
    if args.json:
        print(json.dumps({key: {"value": s.value, "from": s.source} for key, s in effective.items()}, indent=2))
    else:
        print(settings.render(args.name, effective))
    return 0


def cmd_job_check(args, journal: Journal) -> int:
    loaded = config_module.load(args.config)
    names = [args.name] if args.name else sorted(loaded.jobs)
    codes = []
    for name in names:
        values = settings.values(settings.effective(loaded, name, args.flag_defaults))
        try:
            request = requests.backup_request(values, name)
            run = requests.prepare(connect(values["host"], journal), request)
            print(f"job {name}: ready\n{run.preflight.render()}")
        except LvmkitError as error:
            codes.append(error.exit_code)
            print(f"job {name}: NOT READY\n{error}")
    print(f"{len(names) - len(codes)} of {len(names)} jobs ready ({loaded.path} is valid)")
    return most_serious(codes)  # 3 when only preflights said no


def cmd_job_run(args, journal: Journal) -> int:
    loaded = config_module.load(args.config)
    if not args.all:
        loaded.job(args.name)  # an unknown name is refused before anything runs
    names = sorted(loaded.jobs) if args.all else [args.name]
    log = logs.operator_log(args, Terminal.of(sys.stderr))
    results = [run_job(loaded, name, args.flag_defaults, journal, log) for name in names]
    log.done()
    failed = [r for r in results if not r.ok]
    lines = [f"{result.job}: {result.outcome}" + (f" -> {result.archive_set}" if result.archive_set else "")
             + (f", {result.facts['pruned']} old set(s) pruned" if "pruned" in result.facts else "")
             for result in results]
    lines.append(f"{len(results) - len(failed)} of {len(results)} jobs succeeded"
                 + (f"; failed: {', '.join(r.job for r in failed)}" if failed else ""))
    if vars(args).get("under_journal"):  # the summary, as the journal's last lines of the run
        logs.logger().log(logging.ERROR if failed else logging.INFO, "\n".join(lines))
    else:
        print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK  # a refused job is a failed one here: the schedule missed it


def cmd_job_install(args, journal: Journal) -> int:
    loaded = config_module.load(args.config)
    loaded.job(args.name)
    lvmkit = shutil.which("lvmkit") or sys.argv[0]
    made = units.render(args.name, lvmkit, str(Path(loaded.path).resolve()), args.on_calendar, args.randomized_delay,
                        records=args.recorded)
    if args.dry_run:
        print(f"# {args.unit_dir}/{made.service_name}\n{made.service}\n# {args.unit_dir}/{made.timer_name}\n{made.timer}")
        print("(dry run: nothing was written)")
        return 0
    for path in units.install(made, args.unit_dir):
        print(f"wrote {path}")
    if args.unit_dir == units.DEFAULT_UNIT_DIR:
        local = Host(journal=journal)
        local.run(["systemctl", "daemon-reload"], changes=True)
        local.run(["systemctl", "enable", "--now", made.timer_name], changes=True)
        print(f"enabled {made.timer_name}; `systemctl list-timers {made.timer_name}` shows the next run")
    else:
        print(f"not enabled (units written to {args.unit_dir}); link them into systemd to use them")
    return 0


def cmd_job_uninstall(args, journal: Journal) -> int:
    if args.unit_dir == units.DEFAULT_UNIT_DIR:
        local = Host(journal=journal)
        # --now stops a waiting timer; a run in progress finishes (the service is left alone).
        local.run(["systemctl", "disable", "--now", units.unit_name(args.name, "timer")], changes=True, check=False)
    removed = units.uninstall(args.name, args.unit_dir)
    if args.unit_dir == units.DEFAULT_UNIT_DIR and removed:
        Host(journal=journal).run(["systemctl", "daemon-reload"], changes=True)
    print("\n".join(f"removed {path}" for path in removed) or f"no units of job {args.name} in {args.unit_dir}")
    return 0


# --- prune -------------------------------------------------------------------------------


def cmd_prune(args, journal: Journal) -> int:
    given = {rule: getattr(args, f"keep_{rule}") for rule in RULES if getattr(args, f"keep_{rule}") is not None}
    origins, prefix, prune_failed, host_spec = None, None, args.prune_failed, args.host
    if args.job:
        loaded = config_module.load(args.config)
        values = settings.values(settings.effective(loaded, args.job, args.flag_defaults))
        origins, prefix = {requests.job_origin(values)}, values.get("name_prefix") or args.job
        given = {**retention_policy(values["retention"]).as_dict(), **given}
        prune_failed = prune_failed or values["retention"].get("prune_failed", False)
        if host_spec == "local":  # --host not given (or local): the job's own host
            host_spec = values["host"]
    policy = Policy(**given)
    if policy.empty:
        raise UsageError("prune: give at least one --keep-last/--keep-hourly/--keep-daily/--keep-weekly/"
                         "--keep-monthly/--keep-yearly N (or --job NAME with a retention table)")
    host = connect(host_spec, journal, dry_run=args.dry_run)
    decision = prune_module.decide(host, args.directory, policy, origins=origins, name_prefix=prefix,
                                   prune_failed=prune_failed)
    the_plan = prune_module.plan(decision)
    if args.json:
        print(json.dumps({**decision.as_dict(), "plan": the_plan.as_dict(), "plan_sha256": the_plan.sha256,
                          "dry_run": args.dry_run}, indent=2))
    elif args.dry_run or is_verbose(args):  # each set with the rule that kept it
        print(decision.render())
    if args.dry_run:
        if not args.json:
            print(f"\n{the_plan.render()}\n\n(dry run: nothing was changed)")
        return 0
    log = logs.operator_log(args, Terminal.of(sys.stderr))
    prune_module.remove(host, decision, log)
    log.done()
    if not args.json and not is_verbose(args):
        print(decision.summary())
    return 0


