#!/usr/bin/env bash
# Builds snoop-agent and snoop-collector from deploy/'s Dockerfiles as REGISTRY/snoop-NAME:VERSION (VERSION: the
# chart's appVersion, the tag the manifests use) with buildah, or docker where an engine runs; given a REGISTRY,
# pushes both there. Then point the manifests at it: Helm `--set image.registry=REGISTRY`, or a kustomize overlay's
# `images:` (README, "On a cluster").
# Usage: images.sh [REGISTRY]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
registry=${1:-}
version=$(awk '$1 == "appVersion:" { gsub(/"/, "", $2); print $2 }' "$root/deploy/helm/snoop/Chart.yaml")
if command -v buildah >/dev/null; then
    build=(buildah bud --layers) push=(buildah push)
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    build=(docker build) push=(docker push)
else
    echo "images.sh: needs buildah (Debian package buildah) or a running docker engine" >&2
    exit 1
fi
for part in agent:daemonset collector:collector; do
    tag="${registry:-ghcr.io/snoop}/snoop-${part%%:*}:$version"
    echo "images.sh: building $tag" >&2
    "${build[@]}" --file "$root/deploy/${part#*:}/Dockerfile" --tag "$tag" "$root"
    if [ -n "$registry" ]; then
        "${push[@]}" "$tag"
    fi
done
