# shellcheck shell=sh
# Everything the preflight asks about the destination, in one part of the preflight batch.
# `test -w` ignores a read-only mount for root: findmnt's mount options tell that too.
# $1 the destination, $2 the archive set's final path, $3 its partial path.
[ -d "$1" ] && echo dir=1 || echo dir=0
[ -w "$1" ] && echo writable=1 || echo writable=0
echo "options=$(findmnt --noheadings --output OPTIONS --target "$1" 2>/dev/null)"
[ -e "$2" ] && echo final=1 || echo final=0
[ -e "$3" ] && echo partial=1 || echo partial=0
echo "avail=$(df --block-size=1 --output=avail "$1" 2>/dev/null | tail -n 1)"
