# shellcheck shell=bash
# Waits until lvmkit has mounted its snapshot of the origin (under /run/lvmkit/RUN/$2, $2 being
# VG-LV of the origin), then
# writes $3 MiB of new data to the origin mounted at $1, one MiB every $4 seconds, each
# synced so that it reaches the volume at once.
until ls -d /run/lvmkit/*/"$2" >/dev/null 2>&1; do sleep 0.1; done
for _ in $(seq 1 "$3"); do
    head -c 1048576 /dev/urandom >> "$1/flood.bin"
    sync "$1/flood.bin"
    sleep "$4"
done
