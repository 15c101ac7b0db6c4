#!/usr/bin/env bash
# Installs the Debian packages snoop needs and makes BCC find kernel headers. Idempotent: a second run
# only checks. Usage: install-system.sh PACKAGE...
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-system: run as root (BPF and containerd need it)" >&2; exit 1; }

missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-system: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# BCC compiles against /lib/modules/$(uname -r)/build. When the running kernel ships no headers
# (cloud and VM kernels often don't), point it at Debian's: fine for tracepoints, which is all snoop reads.
modules=/lib/modules/$(uname -r)
if [ ! -e "$modules/build/include" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
    common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
    [ -n "$hdr" ] || { echo "install-system: no kernel headers under /usr/src" >&2; exit 1; }
    mkdir -p "$modules"
    ln -sfn "$hdr" "$modules/build"
    ln -sfn "${common:-$hdr}" "$modules/source"
    echo "install-system: linked $modules/build -> $hdr"
fi

# Tracepoints are found through tracefs.
if [ ! -e /sys/kernel/tracing/events ] && [ ! -e /sys/kernel/debug/tracing/events ]; then
    mount -t tracefs tracefs /sys/kernel/tracing
fi
