# shellcheck shell=sh
# Runs "$@" tethered to lvmkit: it names its process group's leader (to stop or watch the
# command on the machine where it runs, also across SSH), and it stops the command when its
# stdin ends, which happens when lvmkit dies, even by SIGKILL: no engine outlives its run.
echo "lvmkit-pid $$" >&2
exec 3<&0
"$@" </dev/null &
child=$!
{ while read -r _ <&3; do :; done; kill -TERM -$$; } 2>/dev/null &
watcher=$!
exec 3<&-
wait "$child"; status=$?
kill "$watcher" 2>/dev/null
exit "$status"
