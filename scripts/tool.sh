#!/usr/bin/env bash
# Prints the path of a pinned tool, building it the first time.
#   - a tool in tools/versions: `go install package@version`, once per version;
#   - a tool of tools/cluster/go.mod (its `tool` lines and etcd): all built together, once per version of its go.sum.
# Built under $SNOOP_TOOLS (default /var/cache/snoop-tools); concurrent callers wait.
# Usage: tool.sh NAME...   (several names: builds them all, prints nothing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SNOOP_TOOLS:-/var/cache/snoop-tools}
cluster="$root/tools/cluster"
export PATH="$PATH:/usr/local/go/bin"  # where Go's own archive installs it, off a root login's PATH
[ -n "${HOME:-}" ] || export GOPATH="$cache/go" GOCACHE="$cache/go-build"

cluster_packages() {
    awk '/^tool \(/ { inside = 1; next } inside && /^\)/ { inside = 0 } inside { print $1 }' "$cluster/go.mod"
    echo ./etcd
}

# Runs "$@" (which fills $dir.partial) under a lock unless $dir/$name exists; then moves it into place.
build_once() {
    local name=$1 dir=$2 what=$3
    shift 3
    [ -x "$dir/$name" ] && return
    command -v go >/dev/null || { echo "tool.sh: $name needs Go (https://go.dev/dl) to build" >&2; exit 1; }
    mkdir -p "$cache"
    exec 9>"$dir.lock"
    flock 9
    if [ ! -x "$dir/$name" ]; then
        echo "tool.sh: building $what (once per version; minutes)" >&2
        rm -rf "$dir.partial" && mkdir -p "$dir.partial"
        "$@" >&2
        rm -rf "$dir" && mv "$dir.partial" "$dir"
    fi
    exec 9>&-
}

install_pinned() {
    local package=$1 experiment=$2 dir=$3
    [ "$experiment" = - ] && experiment=""
    GOEXPERIMENT=$experiment GOBIN="$dir.partial" GOFLAGS=-trimpath CGO_ENABLED=0 go install "$package"
}

# What `make` in k8s.io/kubernetes stamps into its binaries: without it they say v0.0.0 and Helm refuses the cluster.
cluster_ldflags() {
    local version major minor rest
    version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$cluster/go.mod")
    IFS=. read -r major minor rest <<<"${version#v}"
    for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        printf -- '-X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
            "$package" "$version" "$package" "$major" "$package" "$minor" "$package"
    done
    echo "-s"
}

build_cluster() {
    local dir=$1
    # shellcheck disable=SC2046
    (cd "$cluster" && GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0 \
        go build -ldflags="$(cluster_ldflags)" -o "$dir.partial/" $(cluster_packages))
}

build() {
    local name=$1 line package experiment dir
    line=$(awk -v n="$name" '$1 == n { print $2, $3 }' "$root/tools/versions")
    if [ -n "$line" ]; then
        read -r package experiment <<<"$line"
        dir="$cache/$name-${package##*@}"
        build_once "$name" "$dir" "$package" install_pinned "$package" "$experiment" "$dir"
    elif cluster_packages | grep -x ".*/$name" >/dev/null; then  # not -q: awk would die of SIGPIPE
        dir="$cache/cluster-$(cat "$cluster/go.sum" "$cluster/go.mod" <(cluster_ldflags) | sha256sum | cut -c1-12)"
        build_once "$name" "$dir" "the cluster's binaries from tools/cluster/go.mod" build_cluster "$dir"
    else
        echo "tool.sh: $name is neither in tools/versions nor in tools/cluster/go.mod" >&2
        exit 2
    fi
    echo "$dir/$name"
}

if [ $# -eq 1 ]; then
    build "$1"
else
    for name in "$@"; do build "$name" >/dev/null; done
fi
