# shellcheck shell=bash
# The watchdog: detached from lvmkit (setsid --fork, its own session, no terminal, no
# pipes back), it resumes every member after the timeout unless it is stopped first.
# $1 its pid file, $2 the "fired" marker it leaves, $3 the timeout (s), then the devices.
exec </dev/null >/dev/null 2>&1
pidfile=$1; fired=$2; timeout=$3; shift 3
echo $$ > "$pidfile"
sleep "$timeout"
touch "$fired"
for dev; do dmsetup resume "$dev"; done
rm -f "$pidfile"
