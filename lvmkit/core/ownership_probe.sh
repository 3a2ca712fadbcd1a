# shellcheck shell=sh
# The mode and owner of a path and of each parent up to /, one `MODE UID PATH` line each,
# after resolving it (realpath -e), so a symlinked path is judged where it really is; a
# first line `link` when the path itself is a symlink. $1 the path.
[ -L "$1" ] && echo "link"
path=$(realpath -e -- "$1") || exit 1
while :; do
  stat -c '%a %u %n' -- "$path" || exit 1
  [ "$path" = / ] && break
  path=$(dirname -- "$path")
done
