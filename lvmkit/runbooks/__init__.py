"""Runbooks: parameterized notebooks that document, execute and record a change.

A runbook (`runbooks/*.ipynb`) explains each step of a backup, restore, verification or
drill, and runs it by calling one lvmkit function per cell. `lvmkit runbook run` checks
the parameters against the ones the notebook declares, executes it with papermill on
this machine (the storage commands go to the target through a Host), and keeps a record
folder: the executed notebook, its HTML rendering, the command journal, the manifest,
and `run.json`, whose hash goes into the hash-chained `audit.log` (see audit.py).
"""
