"""A job's settings as the request `lvmkit backup` would make from the same flags."""

from __future__ import annotations

from lvmkit.archive.engines.repository import with_repository
from lvmkit.core.errors import UsageError
from lvmkit.core.runs import new_run_id
from lvmkit.lvm.guard import GuardSettings
from lvmkit.ops import backup as backup_module
from lvmkit.ops import group as group_module
from lvmkit.ops.hooks import Hook
from lvmkit.ops.prune import origin_key


def guard_settings(settings: dict) -> GuardSettings:
    return GuardSettings(autoextend=settings["autoextend"], autoextend_step=settings["autoextend_step"],
                         autoextend_max=settings["autoextend_max"], extend_at_percent=settings["extend_at"],
                         warn_at_percent=settings["warn_at"])


def set_name(settings: dict, job: str) -> str:
    """A fixed `name`, else PREFIX-RUNID: each run of a job gets a set of its own."""
    return settings.get("name") or f"{settings.get('name_prefix') or job}-{new_run_id()}"


def job_origin(settings: dict) -> str:
    return origin_key(settings.get("origin"), settings.get("group"))


def backup_request(settings: dict, job: str):
    """A BackupRequest for a volume, a GroupRequest for a group."""
    options = with_repository({key: str(value) for key, value in settings["engine_options"].items()},
                              settings["repository"], settings["password_file"], settings["password_command"])
    common = dict(dest=settings["dest"], engine=settings["engine"], snapshot_size=settings["snapshot_size"],
                  name=set_name(settings, job), engine_options=options, guard=guard_settings(settings),
                  sign_key=settings["sign_key"])
    if settings.get("group"):
        if settings.get("encrypt_to"):
            raise UsageError(f"job {job}: encrypt_to encrypts one volume's set; a group's sets cannot be encrypted yet")
        return group_module.GroupRequest(
            members=group_module.parse_members(",".join(settings["group"])), **common,
            pre_snapshot=Hook.parse("pre-snapshot", settings["pre_snapshot"], settings["hook_timeout"]),
            post_snapshot=Hook.parse("post-snapshot", settings["post_snapshot"], settings["hook_timeout"]),
            freeze_timeout_s=settings["freeze_timeout"])
    if settings["pre_snapshot"] or settings["post_snapshot"]:
        raise UsageError(f"job {job}: hooks go with a group; for one volume, a group of one: group = [\"VG/LV\"]")
    return backup_module.BackupRequest(origin=settings["origin"], keep_snapshot_on_failure=settings[
        "keep_snapshot_on_failure"], encrypt_to=settings.get("encrypt_to"), **common)


def is_group(request) -> bool:
    return isinstance(request, group_module.GroupRequest)


def prepare(host, request):
    """Every preflight check of the request; changes nothing."""
    return group_module.prepare(host, request) if is_group(request) else backup_module.prepare(host, request)


def run_backup(host, request, log):
    if is_group(request):
        return group_module.backup_group(host, request, log=log)
    return backup_module.backup(host, request, log=log)
