"""Layer 4, ops: the operations an operator runs (backup, group backup, restore, verify,
cleanup, status, listing, hooks). Imports core, lvm and archive; never the faces."""
