"""Stands in for pip's get-pip.py, which ansible-test downloads from a host we cannot reach.

ansible-test bootstraps pip into each sanity test's virtual environment by running
`python get-pip.py [pip install options] pip==X ...` from ~/.ansible/test/cache. This does
the same with what Python ships (ensurepip) and PyPI: install pip, then the packages asked
for. get-pip's own flags (--no-setuptools, --no-wheel) mean "do not add those", which is
what a plain `pip install` does anyway.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the install below needs
# the machine's pip configuration (its index and certificates) back.
os.environ.clear()
os.environ.update(environment)
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments]))
