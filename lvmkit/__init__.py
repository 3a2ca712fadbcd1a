"""lvmkit: consistent, provable, rehearsed backups from LVM snapshots."""

__version__ = "0.1.0"
