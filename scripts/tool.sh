#!/usr/bin/env bash
# Prints the path of a tool pinned in tools/versions, building it with `go install` the first time.
# Built once per version under $SNOOP_TOOLS (default /var/cache/snoop-tools); concurrent callers wait.
# Usage: tool.sh NAME...   (several names: builds them all, prints nothing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SNOOP_TOOLS:-/var/cache/snoop-tools}
export PATH="$PATH:/usr/local/go/bin"  # where Go's own archive installs it, off a root login's PATH
[ -n "${HOME:-}" ] || export GOPATH="$cache/go" GOCACHE="$cache/go-build"

build() {
    local name=$1 line package experiment dir
    line=$(awk -v n="$name" '$1 == n { print $2, $3 }' "$root/tools/versions")
    [ -n "$line" ] || { echo "tool.sh: $name is not in tools/versions" >&2; exit 2; }
    read -r package experiment <<<"$line"
    dir="$cache/$name-${package##*@}"
    if [ ! -x "$dir/$name" ]; then
        command -v go >/dev/null || { echo "tool.sh: $name needs Go (https://go.dev/dl) to build" >&2; exit 1; }
        mkdir -p "$cache"
        exec 9>"$cache/$name.lock"
        flock 9
        if [ ! -x "$dir/$name" ]; then
            echo "tool.sh: building $package (once per version; minutes)" >&2
            [ "$experiment" = - ] && experiment=""
            GOEXPERIMENT=$experiment GOBIN="$dir.partial" GOFLAGS=-trimpath CGO_ENABLED=0 \
                go install "$package" >&2
            rm -rf "$dir" && mv "$dir.partial" "$dir"
        fi
        exec 9>&-
    fi
    echo "$dir/$name"
}

if [ $# -eq 1 ]; then
    build "$1"
else
    for name in "$@"; do build "$name" >/dev/null; done
fi
