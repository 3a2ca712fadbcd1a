"""A runbook's parameters: what its `parameters` cell declares, and the values a run gives.

A notebook declares each parameter on one line of its cell tagged `parameters`:

    origin: str = "labvg/ext4vol"  # the logical volume to back up, as VG/LV
    dest: str = None  # required: the directory for the archive set, on the target

The annotation is the type (str, int, float, bool, list or dict; without one, the
default's type), the comment is the help, and a default of None makes it required.
Values from the command line are text, converted to the declared type (a change id
0012345 stays the string "0012345"); values from Python must already have that type.
Every problem is reported at once, before anything runs.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.paths import target_path

TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
# Set by `lvmkit runbook run` itself, never with -p: where the commands go, where the
# record is kept, and the approved plan this run must match.
INJECTED = ("host_spec", "journal_path", "record_dir", "run_id", "approved_plan")
# Paths on the target that reach commands: absolute and normalised (core/paths.py).
TARGET_PATHS = ("dest", "archive")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_INTEGER = re.compile(r"[+-]?[0-9]+")


class NotebookError(LvmkitError):
    """A runbook is malformed: no parameters cell, or a parameter declared badly."""


class ParameterError(UsageError):
    """The values given for a run do not fit the parameters the runbook declares."""

    def __init__(self, runbook: str, problems: list[str]):
        self.problems = list(problems)
        lines = [f"runbook {runbook}: {len(problems)} problem{'s' if len(problems) > 1 else ''} "
                 f"with the parameters; nothing was run:"]
        lines += [f"  {problem}" for problem in problems]
        lines.append(f"`lvmkit runbook params {runbook}` lists its parameters")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # a key of TYPES
    default: object  # None: required
    help: str

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def injected(self) -> bool:
        return self.name in INJECTED

    def describe(self) -> str:
        return f"{self.name} ({self.type}): {self.help}"


def declared(path: Path) -> list[Parameter]:
    """The parameters of the notebook at `path`, in the order its parameters cell lists them."""
    import papermill  # imported here: papermill takes a second to import, most commands don't need it

    inspected = papermill.inspect_notebook(str(path))
    if not inspected:
        raise NotebookError(f"{path}: no code cell tagged 'parameters', or it declares nothing")
    return [_parameter(path, info) for info in inspected.values()]


def _parameter(path: Path, info: dict) -> Parameter:
    name, annotation = info["name"], info.get("inferred_type_name") or "None"
    try:
        default = ast.literal_eval(info["default"])
    except (ValueError, SyntaxError):
        raise NotebookError(f"{path}: parameter {name}'s default {info['default']!r} is not a literal") from None
    if annotation == "None":
        if default is None:
            raise NotebookError(f"{path}: parameter {name} is required (None) but has no type: write `{name}: str = None`")
        annotation = type(default).__name__
    if annotation not in TYPES:
        raise NotebookError(f"{path}: parameter {name} has type {annotation}; runbooks take {', '.join(TYPES)}")
    if default is not None and not _fits(default, annotation):
        raise NotebookError(f"{path}: parameter {name} is declared {annotation} but its default is {default!r}")
    help_text = (info.get("help") or "").strip()
    if not help_text:
        raise NotebookError(f"{path}: parameter {name} has no help: end its line with `# what it is`")
    return Parameter(name, annotation, default, help_text)


def validate(runbook: str, parameters: list[Parameter], given: dict[str, object], *,
             as_text: bool = False) -> dict[str, object]:
    """Every operator parameter's value (given or default), of its declared type.

    `as_text`: the values are command-line text, converted to the declared types.
    Raises ParameterError naming every unknown, injected, mistyped or missing parameter.
    """
    by_name = {p.name: p for p in parameters}
    settable = [p.name for p in parameters if not p.injected]
    problems, values = [], {}
    for name, value in given.items():
        parameter = by_name.get(name)
        if parameter is None:
            close = difflib.get_close_matches(name, settable, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"unknown parameter {name}{hint}; {runbook} takes: {', '.join(settable)}")
        elif parameter.injected:
            problems.append(f"{name} is set by `lvmkit runbook run` itself"
                            + (" (use --host)" if name == "host_spec" else ""))
        else:
            try:
                values[name] = convert(parameter, value) if as_text else checked(parameter, value)
                if name in TARGET_PATHS:
                    target_path(values[name], name)
            except (ValueError, UsageError) as error:
                problems.append(str(error))
    for parameter in parameters:
        if parameter.injected or parameter.name in given:
            continue
        if parameter.required:
            problems.append(f"missing required parameter {parameter.describe()}")
        else:
            values[parameter.name] = parameter.default
    if problems:
        raise ParameterError(runbook, problems)
    return {p.name: values[p.name] for p in parameters if p.name in values}


def convert(parameter: Parameter, text: object) -> object:
    """The command-line text `text` as a value of the parameter's type; ValueError if it is not one."""
    if not isinstance(text, str):
        return checked(parameter, text)
    kind, name = parameter.type, parameter.name
    if kind == "str":
        return text
    if kind == "int":
        if _INTEGER.fullmatch(text.strip()):
            return int(text)
        raise ValueError(f"{name} takes a whole number (int), not {text!r}")
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name} takes a number (float), not {text!r}") from None
    if kind == "bool":
        if text.strip().lower() in _TRUE:
            return True
        if text.strip().lower() in _FALSE:
            return False
        raise ValueError(f"{name} takes true or false (bool), not {text!r}")
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"{name} takes a JSON {kind}, e.g. {'[]' if kind == 'list' else '{}'}, not {text!r}") from None
    return checked(parameter, value)


def checked(parameter: Parameter, value: object) -> object:
    """`value` itself if it has the parameter's type (an int is a fine float); ValueError otherwise."""
    if not _fits(value, parameter.type):
        raise ValueError(f"{parameter.name} takes a {parameter.type}, not {type(value).__name__} {value!r}")
    return float(value) if parameter.type == "float" else value


def _fits(value: object, kind: str) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, never to an operator
        return kind == "bool"
    if kind == "float":
        return isinstance(value, (int, float))
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, TYPES[kind])
