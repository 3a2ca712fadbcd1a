"""Layer 2, lvm: LVM's reports as frozen data, snapshots, their guard, locks per origin,
and filesystems. Imports only core."""
