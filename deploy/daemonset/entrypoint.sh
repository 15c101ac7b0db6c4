#!/bin/sh
# Picks kernel headers for BCC, then runs snoop. Order: the host's own headers for the running kernel
# (mounted at /host/lib/modules and /host/usr/src), else the Debian headers baked into the image.
# BCC reads only tracepoint arguments, so a version mismatch is harmless; a missing tree is not.
set -eu
release=$(uname -r)
modules=/lib/modules/$release
if [ ! -e "$modules/build/include" ]; then
    mkdir -p "$modules"
    host_build=/host/lib/modules/$release/build
    target=$(readlink "$host_build" 2>/dev/null || true)
    case $target in /*) host_build=/host$target ;; esac  # the host's link points into the host's /usr/src
    if [ -e "$host_build/include" ]; then
        ln -sfn "$host_build" "$modules/build"
    else
        hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
        common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
        ln -sfn "$hdr" "$modules/build"
        ln -sfn "${common:-$hdr}" "$modules/source"
    fi
fi
exec /opt/snoop/venv/bin/snoop "$@"
