# shellcheck shell=bash
# Where LVM writes its metadata backups, and whether it does: one line per directory,
# `KEY ENABLED DEVNO PATH`. `--type full`: the values in force, lvm.conf's or the built-in
# defaults. A directory that does not exist yet is judged by its nearest existing parent,
# where LVM would create it. No parameters.
set -o pipefail
values=$(lvmconfig --type full backup/archive backup/archive_dir backup/backup backup/backup_dir) || exit
value() { printf '%s\n' "$values" | sed -n "s/^$1=//p" | sed 's/^"//; s/"$//'; }
for kind in archive backup; do
  dir=$(value "${kind}_dir")
  while [ ! -e "$dir" ] && [ "$dir" != / ]; do dir=$(dirname -- "$dir"); done
  echo "${kind}_dir $(value "$kind") $(stat -c %d -- "$dir") $dir"
done
