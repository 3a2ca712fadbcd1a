"""The runner tests' small runbook, small.ipynb: one harmless command (echo) against `local`,
so that a real run (papermill, a kernel of this Python) takes a few seconds and needs no LVM.
The audit report's tests run it too (the `books` fixture in conftest.py), and the console's
own runbook declares the same PARAMETERS."""

from __future__ import annotations

import nbformat

PARAMETERS = '''change: str = "CHG-1"  # a change-like string
fail: bool = False  # raise in the step after the echo
sleep: float = 0.0  # seconds the step after the echo sleeps
host_spec: str = "local"  # set by lvmkit
journal_path: str = ""  # set by lvmkit
record_dir: str = ""  # set by lvmkit
run_id: str = ""  # set by lvmkit
approved_plan: str = ""  # set by lvmkit'''

def write_runbook(directory) -> None:
    """Write small.ipynb into `directory`."""
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nb.cells.append(nbformat.v4.new_markdown_cell("# A small runbook\n\nFor the runner's tests."))
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    nb.cells += [
        parameters,
        nbformat.v4.new_code_cell("from lvmkit.runbooks import steps\nhost = steps.connect(host_spec, journal_path)"),
        nbformat.v4.new_code_cell('host.run(["echo", change])'),
        nbformat.v4.new_code_cell('__import__("time").sleep(sleep)'),
        nbformat.v4.new_code_cell('assert not fail, "asked to fail"'),
        nbformat.v4.new_code_cell('steps.keep(record_dir, "manifest.json", {"change": change, "type": type(change).__name__})'),
    ]
    nbformat.write(nb, directory / "small.ipynb")
