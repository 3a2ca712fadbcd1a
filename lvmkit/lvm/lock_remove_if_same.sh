# shellcheck shell=sh
# Compare and remove in one step: the lock $1 goes only while it still holds exactly $2.
# Says "gone" (no such file), "removed", or "other" (it holds something else: left alone).
if [ ! -e "$1" ]; then
    echo gone
elif [ "$(cat -- "$1")" = "$2" ]; then
    rm -f -- "$1" && echo removed
else
    echo other
fi
