"""Turn a --host value into a Host: `local`, `lab`, `vagrant[:MACHINE]` or `ssh://[user@]host[:port]`."""

from __future__ import annotations

import os
from pathlib import Path

from lvmkit import lab
from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host, SshHost, parse_ssh_url
from lvmkit.core.journal import Journal
from lvmkit.core.paths import target_path
from lvmkit.ops.copy_transfer import Place

DEFAULT_JOURNAL = Path("/var/log/lvmkit/journal.jsonl")
VAGRANT_DIR = Path(__file__).resolve().parents[1] / "vagrant"
VAGRANT_MACHINES = ("debian12", "rocky9")
VAGRANT_DEFAULT_MACHINE = "debian12"


def default_journal_path() -> Path:
    return Path(os.environ.get("LVMKIT_JOURNAL", DEFAULT_JOURNAL))


def ssh_config_file() -> Path | None:
    """$LVMKIT_SSH_CONFIG: the ssh_config that ssh:// hosts are reached through (ssh -F), if set."""
    value = os.environ.get("LVMKIT_SSH_CONFIG")
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute() or not path.is_file():
        raise UsageError(f"LVMKIT_SSH_CONFIG={value!r} is not an absolute path to a file: give the ssh_config to use")
    return path


def connect(spec: str, journal: Journal, *, dry_run: bool = False) -> Host:
    local = Host(journal=journal, dry_run=dry_run)
    if spec == "local":
        return local
    if spec == "lab":
        return lab.connect(local)
    if spec.startswith("ssh://"):
        return parse_ssh_url(spec, journal=journal, dry_run=dry_run, config_file=ssh_config_file())
    if spec == "vagrant" or spec.startswith("vagrant:"):
        return vagrant_host(local, spec.partition(":")[2] or VAGRANT_DEFAULT_MACHINE)
    raise UsageError(
        f"cannot parse host {spec!r}: expected 'local', 'lab', 'vagrant[:MACHINE]' or ssh://[user@]host[:port]"
    )


def vagrant_host(local: Host, machine: str) -> SshHost:
    """The Vagrant VM `machine` of vagrant/Vagrantfile, over the SSH settings Vagrant reports."""
    if machine not in VAGRANT_MACHINES:
        raise UsageError(f"unknown Vagrant machine {machine!r}: vagrant/Vagrantfile defines {', '.join(VAGRANT_MACHINES)}")
    config = local.run(["env", f"--chdir={VAGRANT_DIR}", "vagrant", "ssh-config", machine]).stdout
    settings = {}
    for line in config.splitlines():
        key, _, value = line.strip().partition(" ")
        settings.setdefault(key, value.strip().strip('"'))
    try:
        return SshHost(
            journal=local.journal, dry_run=local.dry_run, user=settings["User"],
            address=settings["HostName"], port=int(settings["Port"]),
            identity_file=Path(settings["IdentityFile"]),
            known_hosts_file=vagrant_known_hosts(machine), accept_new_host_key=True,
        )
    except (KeyError, ValueError) as error:
        raise UsageError(f"`vagrant ssh-config {machine}` did not give HostName, User, Port and IdentityFile: {error}") from None


def vagrant_known_hosts(machine: str) -> Path:
    """Where the host key of the Vagrant VM `machine` is recorded on first contact: beside
    Vagrant's own state of that VM, named after its id, so a VM created anew (new id, new
    key, perhaps the old address) starts a new file instead of failing on the old key."""
    dotfile = Path(os.environ.get("VAGRANT_DOTFILE_PATH", ".vagrant"))
    state = dotfile if dotfile.is_absolute() else VAGRANT_DIR / dotfile
    ids = sorted((state / "machines" / machine).glob("*/id"))
    if not ids:
        raise UsageError(f"Vagrant knows no VM {machine!r} in {state}: run `vagrant up {machine}` in {VAGRANT_DIR}")
    return ids[0].parent / f"known_hosts-{ids[0].read_text().strip()}"


def split_copy_destination(spec: str) -> tuple[str | None, str]:
    """(ssh URL of the host or None for the controller, directory) of a copy destination;
    a UsageError saying what to write for anything else."""
    if spec.startswith("ssh://"):
        authority, slash, path = spec[len("ssh://"):].partition("/")
        if not slash or not path:
            raise UsageError(f"copy destination {spec!r} names no directory: write ssh://[user@]host[:port]/DIR")
        return f"ssh://{authority}", target_path("/" + path, "copy destination")
    if "://" in spec:
        raise UsageError(f"copy destination {spec!r}: give a directory on the controller or ssh://[user@]host[:port]/DIR")
    return None, target_path(spec, "copy destination")


def copy_place(spec: str, local: Host) -> Place:
    """A copy destination: a directory on the controller (`/copies`) or on another host
    (`ssh://[user@]host[:port]/copies`), reached with the same SSH settings as a --host."""
    url, directory = split_copy_destination(spec)
    if url is None:
        return Place(local, directory)
    return Place(parse_ssh_url(url, journal=local.journal, dry_run=local.dry_run), directory)
