"""lvmkit.toml: read, validate against the published schema, and check what a schema cannot.

Every error names the file, the job and the key, with the line where it can be found, and
is a ConfigError (a UsageError: exit code 2, nothing runs).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lvmkit.core.errors import UsageError
from lvmkit.core.host import parse_ssh_url
from lvmkit.targets import split_copy_destination

DEFAULT_CONFIG = "/etc/lvmkit/lvmkit.toml"
CONFIG_ENV = "LVMKIT_CONFIG"  # another default file, e.g. for tests and containers


class ConfigError(UsageError):
    """lvmkit.toml is malformed or inconsistent; the message says where and what to do."""


@dataclass(frozen=True)
class Config:
    path: str
    text: str
    defaults: dict
    jobs: dict[str, dict]

    def job(self, name: str) -> dict:
        if name not in self.jobs:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise ConfigError(f"{self.path}: no job {name!r} (jobs: {known})")
        return self.jobs[name]


def schema_path() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "schemas" / "config.json"


@cache
def _schema() -> dict:
    return json.loads(schema_path().read_text())


def default_path() -> str:
    return os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG


def load(path: str | None = None, *, required: bool = True) -> Config | None:
    """The validated configuration; None when `required` is false and no file exists."""
    path = path or default_path()
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        if not required:
            return None
        raise ConfigError(f"{path}: no such configuration file; write one (see docs/jobs.md) "
                          f"or give --config FILE") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from None
    return parse(text, path)


def parse(text: str, path: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    config = Config(path, text, data.get("defaults", {}), data.get("jobs", {}))
    _validate_schema(config, data)
    _check_jobs(config)
    return config


def _validate_schema(config: Config, data: dict) -> None:
    from jsonschema import Draft202012Validator  # imported here: only commands that read a config pay for it

    errors = sorted(Draft202012Validator(_schema()).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(config, error) for error in errors[:5]))


def _describe(config: Config, error) -> str:
    where = [str(part) for part in error.absolute_path]
    if where[:1] == ["jobs"] and len(where) > 1:
        table, rest = f"jobs.{where[1]}", where[2:]
    elif where[:1] == ["defaults"]:
        table, rest = "defaults", where[1:]
    else:
        table, rest = None, where
    key, message = ".".join(rest) or None, error.message
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        unknown = re.findall(r"'([^']+)'", error.message)
        key = ".".join([*rest, unknown[0]]) if unknown else key
        message = "unknown key; docs/schemas/config.json lists the keys there are"
    return f"{_where(config, table, key)}: {message}"


def _where(config: Config, table: str | None, key: str | None) -> str:
    """FILE:LINE: [TABLE] key 'KEY', as precisely as the file allows."""
    line = locate(config.text, table, key.split(".")[0] if key else None)
    return (f"{config.path}{f':{line}' if line else ''}: {f'[{table}]' if table else 'top level'}"
            f"{f' key {key!r}' if key else ''}")


def locate(text: str, table: str | None, key: str | None) -> int | None:
    """The line of `key = ...` (or of a sub-table [TABLE.KEY]) in [TABLE], else the line of
    [TABLE]; None for the top level. tomllib gives lines for syntax errors only."""
    current, table_line = "", None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").replace('"', "").replace(" ", "")
            if current == table and table_line is None:
                table_line = number
            if key and current == f"{table}.{key}":
                return number
        elif key and current == (table or "") and re.match(rf'"?{re.escape(key)}"?\s*=', stripped):
            return number
    return table_line


def _check_jobs(config: Config) -> None:
    """What the schema cannot say: each job backs up one thing to one place of its own."""
    problems, writers = [], {}
    for name, job in config.jobs.items():
        if ("origin" in job) == ("group" in job):
            problems.append(_where(config, f"jobs.{name}", None) +
                            ": give either origin = \"VG/LV\" or group = [\"VG/LV\", ...], not "
                            + ("both" if "origin" in job else "neither"))
        dest = job.get("dest", config.defaults.get("dest"))
        if dest is None:
            problems.append(_where(config, f"jobs.{name}", None) +
                            ": no destination: give dest = \"/backups\" here or in [defaults]")
            continue
        prefix = job.get("name_prefix", config.defaults.get("name_prefix", name))
        host = job.get("host", config.defaults.get("host", "local"))
        where = (host, dest.rstrip("/") or "/", prefix)
        if where in writers:
            problems.append(_where(config, f"jobs.{name}", "dest") +
                            f": job {writers[where]!r} writes to {dest} on {host} with the same name "
                            f"prefix {prefix!r}: their sets and their pruning would mix; give one of "
                            f"them another dest or name_prefix")
        writers.setdefault(where, name)
        copy_to = job.get("copy_to", config.defaults.get("copy_to"))
        if copy_to is not None:
            try:
                url, directory = split_copy_destination(copy_to)
                if url is not None:
                    parse_ssh_url(url)
            except UsageError as error:
                problems.append(_where(config, f"jobs.{name}", "copy_to") + f": {error}")
    if problems:
        raise ConfigError("\n".join(problems))
