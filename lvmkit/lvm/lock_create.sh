# shellcheck shell=sh
# Creates the lock $1 with stdin as its content, atomically and complete, or fails if it
# exists. umask 077: the lock is root's alone. The content goes to a temporary file in the
# same directory, then `ln -T` gives it the lock's name: link(2) fails if the name exists.
# (-T: never link *into* a directory of that name.)
umask 077
dir=$(dirname -- "$1") && mkdir -p -- "$dir" || exit
tmp=$(mktemp -- "$dir/.new.XXXXXX") || exit
if cat > "$tmp" && ln -T -- "$tmp" "$1"; then
    rm -f -- "$tmp"
else
    status=$?
    rm -f -- "$tmp"
    exit "$status"
fi
