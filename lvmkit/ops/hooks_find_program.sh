# shellcheck shell=sh
# Where timeout(1) will find the program $1: a path as given, else the first file of that
# name on PATH (`command -v` would answer "false" for the shell's builtin instead).
case "$1" in
    */*) [ -e "$1" ] && echo "$1"; exit 0 ;;
esac
IFS=:
for dir in $PATH; do
    [ -f "$dir/$1" ] && { echo "$dir/$1"; exit 0; }
done
