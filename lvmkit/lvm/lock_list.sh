# shellcheck shell=sh
# Each lock in the directory $1 as NAME NUL BASE64 NUL (base64: any bytes in a damaged lock
# keep the framing). A lock removed while listing is skipped; no lock directory means no locks.
cd -- "$1" 2>/dev/null || exit 0
for f in *.lock; do
    [ -f "$f" ] || continue
    c=$(base64 -w0 -- "$f" 2>/dev/null) || continue
    printf '%s\0%s\0' "$f" "$c"
done
