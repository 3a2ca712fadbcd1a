# shellcheck shell=sh
# Writes stdin to the file $1, 0600, whole or not at all: under mktemp's name beside it
# ($1.XXXXXX, created O_EXCL: a name planted first fails it), renamed over $1 once complete.
# `cat > "$1"` would follow a symlink planted at the name (verify writes into sets others may
# have touched) and overwrite its target; mv -T replaces the name itself, never its target.
# Interrupted (Ctrl-C reaches this shell with lvmkit; SIGTERM, SIGHUP), the temporary is
# removed before the shell exits with the signal's code; only SIGKILL leaves it behind, for
# `lvmkit cleanup --dest` to find (lvmkit.ops.cleanup_temporaries).
umask 077 && tmp= || exit
trap 'rm -f -- ${tmp:+"$tmp"}; exit 129' HUP
trap 'rm -f -- ${tmp:+"$tmp"}; exit 130' INT
trap 'rm -f -- ${tmp:+"$tmp"}; exit 143' TERM
tmp=$(mktemp -- "$1.XXXXXX") || exit
cat > "$tmp" && mv -T -- "$tmp" "$1" && exit 0
status=$?
rm -f -- "$tmp"
exit "$status"
