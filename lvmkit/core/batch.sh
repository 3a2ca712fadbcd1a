# shellcheck shell=bash
# Runs many read-only queries in one round trip. Arguments: for each query its NAME, the
# COUNT of its argv's words, then those words. For each query it prints "@@ NAME RC", then
# each line of its stdout prefixed "o " and of its stderr prefixed "e ".
# Files for each part's output, in a private directory removed on exit; `read` and `printf`
# are builtins, so the framing starts no process. `|| [ -n "$line" ]`: a last line without
# a newline is kept. </dev/null: no part reads what lvmkit might send.
set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lvmkit-batch.XXXXXX") || exit 125
trap 'rm -rf -- "$tmp"' EXIT
emit() { while IFS= read -r line || [ -n "$line" ]; do printf '%s%s\n' "$1" "$line"; done < "$2"; }
while [ $# -gt 0 ]; do
  name=$1 count=$2
  shift 2
  "${@:1:$count}" > "$tmp/out" 2> "$tmp/err" < /dev/null
  rc=$?
  shift "$count"
  printf '@@ %s %s\n' "$name" "$rc"
  emit 'o ' "$tmp/out"
  emit 'e ' "$tmp/err"
done
