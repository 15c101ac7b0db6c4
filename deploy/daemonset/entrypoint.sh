#!/bin/sh
# Picks kernel headers for BCC, then runs snoop. Order: the host's own headers for the running kernel
# (mounted at /host/lib/modules and /host/usr/src), else the Debian headers baked into the image.
# BCC reads only tracepoint arguments, so a version mismatch is harmless; a missing tree is not.
set -eu
release=$(uname -r)
modules=/lib/modules/$release
# host_tree NAME: the host's /lib/modules/$release/NAME (build or source) as seen from here, or nothing.
host_tree() {
    path=/host/lib/modules/$release/$1
    target=$(readlink "$path" 2>/dev/null || true)
    case $target in /*) path=/host$target ;; esac  # the host's link points into the host's /usr/src
    [ -e "$path/include" ] && echo "$path"
}
if [ ! -e "$modules/build/include" ]; then
    mkdir -p "$modules"
    if build=$(host_tree build); then
        # Debian-style trees split in two: build has the generated headers, source the rest (kconfig.h).
        ln -sfn "$build" "$modules/build"
        ln -sfn "$(host_tree source || echo "$build")" "$modules/source"
    else
        hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
        common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
        ln -sfn "$hdr" "$modules/build"
        ln -sfn "${common:-$hdr}" "$modules/source"
    fi
fi
exec /opt/snoop/venv/bin/snoop "$@"
