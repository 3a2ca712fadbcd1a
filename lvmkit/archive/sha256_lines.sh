# shellcheck shell=sh
# The sha256 lines (as sha256sum -c reads them) of the files "$2"... in the directory $1, by
# the faster tool the target has. Where the CPU has SHA instructions (x86 `sha_ni`, arm64
# `sha2`), OpenSSL uses them and coreutils' sha256sum does not: on a 185 MiB archive OpenSSL took 0.29x sha256sum's time on such a
# CPU; in the emulated lab (no SHA instructions) 1.29x, so there sha256sum stays. `openssl
# dgst -r` writes "HEX *NAME", a line `sha256sum -c` reads (the binary-mode mark); the names
# are lvmkit's own (no newline, no backslash), so both tools write them the same way.
cd "$1" && shift || exit
if grep -qw -e sha_ni -e sha2 /proc/cpuinfo 2>/dev/null && command -v openssl >/dev/null 2>&1; then
  exec openssl dgst -sha256 -r "$@"
fi
exec sha256sum -- "$@"
