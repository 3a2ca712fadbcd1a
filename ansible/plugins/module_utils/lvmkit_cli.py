# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the lvmkit command line for a module and read its JSON answer.

The modules never parse lvmkit's human text: every command they call prints JSON
(`--json`, or the one JSON line `runbook run` ends with). A failure carries lvmkit's own
message: the lines it printed after `lvmkit: ` on stderr.
"""

from __future__ import annotations

import json
import time

TARGET_ARGUMENTS = dict(
    host=dict(type="str", required=True),
    executable=dict(type="str", default="lvmkit"),
    journal=dict(type="path"),
    ssh_config=dict(type="path"),
)


def target_spec(**arguments):
    """The argument spec of a module: its own arguments and the target's."""
    return dict(TARGET_ARGUMENTS, **arguments)


class LvmkitCall:
    """The outcome of one lvmkit command: argv, exit code, output, seconds it took."""

    def __init__(self, argv, rc, stdout, stderr, duration_s):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.duration_s = duration_s

    def message(self):
        """lvmkit's error message: from its last `lvmkit: ` line to the end of stderr.

        The error is what lvmkit prints last; earlier `lvmkit: ` lines are its progress
        (for example "checking the plan against the approved plan ...")."""
        lines = self.stderr.splitlines()
        for index in range(len(lines) - 1, -1, -1):
            if lines[index].startswith("lvmkit: "):
                return "\n".join([lines[index][len("lvmkit: "):]] + lines[index + 1:]).strip()
        tail = [line for line in lines if line.strip()][-5:]
        return "\n".join(tail) or "lvmkit exited {0} without a message".format(self.rc)

    def json(self):
        """The JSON document lvmkit printed (the whole of stdout)."""
        return json.loads(self.stdout)

    def last_json_line(self):
        """The JSON object on the last line of stdout (`runbook run` prints one)."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise ValueError("no JSON line in lvmkit's output")


def base_argv(module):
    executable = module.params["executable"]
    if "/" not in executable:
        executable = module.get_bin_path(executable, required=True)
    argv = [executable, "--host", module.params["host"]]
    if module.params.get("journal"):
        argv += ["--journal", module.params["journal"]]
    return argv


def run_lvmkit(module, arguments):
    """Run `lvmkit --host HOST ARGUMENTS` as an argv list (never a shell string)."""
    argv = base_argv(module) + list(arguments)
    environment = {"LVMKIT_SSH_CONFIG": module.params["ssh_config"]} if module.params.get("ssh_config") else {}
    started = time.monotonic()
    rc, stdout, stderr = module.run_command(argv, environ_update=environment)
    return LvmkitCall(argv, rc, stdout, stderr, round(time.monotonic() - started, 3))


def fail(module, call, **extra):
    """Fail the task with lvmkit's message, its exit code and the command that failed."""
    module.fail_json(msg=call.message(), rc=call.rc, cmd=call.argv, stderr=call.stderr,
                     duration_s=call.duration_s, **extra)


def run_for_json(module, arguments):
    """Run lvmkit and return (its JSON answer, the call); a non-zero exit fails the task with lvmkit's message."""
    call = run_lvmkit(module, arguments)
    if call.rc != 0:
        fail(module, call)
    return read_json(module, call), call


def read_json(module, call, last_line=False):
    try:
        return call.last_json_line() if last_line else call.json()
    except ValueError as error:
        module.fail_json(msg="lvmkit did not print the JSON expected: {0}".format(error), cmd=call.argv,
                         stdout=call.stdout, stderr=call.stderr, rc=call.rc)
