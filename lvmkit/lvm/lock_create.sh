# shellcheck shell=sh
# Creates the lock $1 with stdin as its content, atomically and complete, or fails if it
# exists. umask 077: the lock is root's alone. The content goes to a temporary file in the
# same directory, then `ln -T` gives it the lock's name: link(2) fails if the name exists.
# (-T: never link *into* a directory of that name.) Interrupted (Ctrl-C, SIGTERM, SIGHUP),
# the temporary is removed before the shell exits with the signal's code, as
# archive/write_private.sh does; only SIGKILL leaves it, and it is never taken for a lock.
umask 077 && tmp= || exit
trap 'rm -f -- ${tmp:+"$tmp"}; exit 129' HUP
trap 'rm -f -- ${tmp:+"$tmp"}; exit 130' INT
trap 'rm -f -- ${tmp:+"$tmp"}; exit 143' TERM
dir=$(dirname -- "$1") && mkdir -p -- "$dir" || exit
tmp=$(mktemp -- "$dir/.new.XXXXXX") || exit
if cat > "$tmp" && ln -T -- "$tmp" "$1"; then
    rm -f -- "$tmp"
else
    status=$?
    rm -f -- "$tmp"
    exit "$status"
fi
