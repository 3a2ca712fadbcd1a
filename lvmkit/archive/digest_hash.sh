# shellcheck shell=bash
# shellcheck disable=SC2016  # split's --filter is a script of its own: its shell expands $DIGEST_BATCH, $DIGEST_TOOL and $FILE
# The content hash of every regular file below $1 (one filesystem): $2 workers, $3 files per
# process of the hashing tool $4 (sha256sum or b2sum, with -z: NUL-terminated records); the
# records in base64, as the Host decodes stdout as text.
# Parallel hashing without xargs -P: workers sharing one stdout interleave it in 4 KiB
# chunks that split records (xargs -P2 over 110,000 files: hundreds of broken records), and
# a shell per batch to redirect each batch to a file of its own costs ~0.1 s per batch in an
# emulated guest. So split deals the NUL-separated names round-robin to $2 filters, each an
# xargs writing to its own file, then the files are read one after the other. split exits
# non-zero when a filter does. The temporary directory is removed on exit, and pruned in
# case it lies inside the tree being digested.
set -o pipefail
parts=$(mktemp -d "${TMPDIR:-/tmp}/lvmkit-digest.XXXXXX") || exit
trap 'rm -rf -- "$parts"' EXIT
export DIGEST_BATCH=$3 DIGEST_TOOL=$4
find "$1" -xdev -path "$parts" -prune -o -type f -print0 |
  split -t '\0' -n "r/$2" --filter='xargs -0 -r -n "$DIGEST_BATCH" "$DIGEST_TOOL" -z -- > "$FILE"' - "$parts/part." || exit
shopt -s nullglob
cat /dev/null "$parts"/part.* | base64
