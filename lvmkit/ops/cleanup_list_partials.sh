# shellcheck shell=sh
# Each partial archive set of the directory $1 as NAME NUL KIND NUL RUN_ID NUL; KIND is
# "marker" (it holds the run marker, file name $2, whose first line is the run id) or
# "none" (no marker). Symbolic links are not archive sets: skipped.
[ -d "$1" ] || { echo "not a directory: $1" >&2; exit 2; }
cd -- "$1" || exit
for d in .*.partial; do
    if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
    if [ -f "$d/$2" ]; then
        r=$(head -n 1 -- "$d/$2")
        printf '%s\0marker\0%s\0' "$d" "$r"
    else
        printf '%s\0none\0\0' "$d"
    fi
done
