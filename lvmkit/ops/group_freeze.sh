# shellcheck shell=bash
# Suspends the mounted members, snapshots every member, resumes every member on every
# path (EXIT trap), and reports the window in the target's own clock.
# $1 the pause inside the window (drills), $2 the watchdog's "fired" marker, then the
# devices to suspend, "--", then each lvcreate argv followed by "--next--".
# Exit 10: a member could not be suspended; 11: a snapshot could not be created; 12: the
# watchdog resumed the members first.
set -u
pause=$1; fired=$2; shift 2
suspended=()
while [ "$1" != "--" ]; do suspended+=("$1"); shift; done; shift
resume_all() { for dev in "${suspended[@]}"; do dmsetup resume "$dev" 2>/dev/null; done; }
trap resume_all EXIT
start=$(date +%s.%N)
for dev in "${suspended[@]}"; do dmsetup suspend "$dev" || exit 10; done
frozen=$(date +%s.%N)
sleep "$pause"
command=()
for word in "$@" --next--; do
    if [ "$word" = --next-- ]; then "${command[@]}" || exit 11; command=(); else command+=("$word"); fi
done
resume_all
trap - EXIT
end=$(date +%s.%N)
if [ -e "$fired" ]; then echo "the watchdog resumed the members before the last snapshot" >&2; exit 12; fi
echo "window $start $frozen $end"
