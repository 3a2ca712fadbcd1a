"""A job's effective settings, and where each came from: lvmkit's default, [defaults], the job.

lvmkit's defaults for the backup keys are the defaults of `lvmkit backup`'s own parser
(read from it, never repeated here), so a job and a typed command mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.jobs.config import Config

# The keys that are not flags of `lvmkit backup`, with lvmkit's defaults.
JOB_DEFAULTS = {
    "host": "local",
    "name_prefix": None,  # None: the job's name
    "retention": {},
    "after": [],
    "notify": None,
    "notify_on": ["failure"],
    "notify_timeout": 60.0,
    "metrics_dir": None,
    "copy_to": None,  # a copy destination (lvmkit copy): a controller directory or ssh://.../DIR
}
# Flags of `lvmkit backup` that are modes of one command, not settings of a job.
NOT_SETTINGS = {"help", "origin", "group", "dry_run", "json", "handler", "config", "verbose", "quiet"}
# Config keys whose flag has another name or shape.
FLAG_OF_KEY = {"engine_options": "engine_option"}

DEFAULT, DEFAULTS_TABLE, JOB = "lvmkit default", "[defaults]", "the job"


@dataclass(frozen=True)
class Setting:
    value: object
    source: str  # DEFAULT, DEFAULTS_TABLE or JOB


def backup_flag_defaults(backup_parser) -> dict:
    """{config key: default} for every setting flag of `lvmkit backup`."""
    found = {}
    for action in backup_parser._actions:
        if action.dest in NOT_SETTINGS or not action.option_strings:
            continue
        key = next((k for k, flag in FLAG_OF_KEY.items() if flag == action.dest), action.dest)
        default = action.default
        found[key] = {} if key == "engine_options" else default
    return found


def effective(config: Config, name: str, flag_defaults: dict) -> dict[str, Setting]:
    job = config.job(name)
    settings = {key: Setting(value, DEFAULT) for key, value in {**flag_defaults, **JOB_DEFAULTS}.items()}
    settings["name_prefix"] = Setting(name, DEFAULT + " (the job's name)")
    for key, value in config.defaults.items():
        settings[key] = Setting(value, DEFAULTS_TABLE)
    for key, value in job.items():
        settings[key] = Setting(value, JOB)
    return settings


def values(settings: dict[str, Setting]) -> dict:
    return {key: setting.value for key, setting in settings.items()}


def render(name: str, settings: dict[str, Setting]) -> str:
    rows = [(key, shown(s.value), s.source) for key, s in sorted(settings.items())]
    width = max(len(key) for key, _, _ in rows)
    value_width = min(48, max(len(value) for _, value, _ in rows))
    lines = [f"job {name}: effective settings (value, and where it came from)"]
    lines += [f"  {key.ljust(width)}  {value.ljust(value_width)}  {source}" for key, value, source in rows]
    return "\n".join(lines)


def shown(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return str(value)
