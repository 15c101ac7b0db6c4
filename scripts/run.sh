#!/usr/bin/env bash
# `make run`: a collector (SQLite by default) and this node's agent, in the foreground; Ctrl-C stops both.
# REST and the web view on :8080, gRPC ingest on :50051, agent metrics on :9090. Override with SNOOP_*
# variables (SNOOP_DB=postgresql+psycopg://…, SNOOP_CRI_ENDPOINT=unix:///run/crio/crio.sock, …).
# When the CRI runs no pods, a demo (two versions of a sample app) starts too; DEMO=0 turns it off.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SNOOP_DATA:-$PWD/.snoop}
mkdir -p "$data"
export SNOOP_DB=${SNOOP_DB:-sqlite:///$data/snoop.db}
cri=${SNOOP_CRI_ENDPOINT:-unix:///run/containerd/containerd.sock}
export SNOOP_CRI_ENDPOINT=$cri

pids=()
demo=no
stop() {
    trap - EXIT INT TERM
    [[ $demo == yes ]] && .venv/bin/snoop demo --stop --cri-endpoint "$cri" || true
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

# No CRI runtime running (a machine without systemd, say)? Start the installed containerd for as long as
# `make run` runs, configured for hosts like this one: cgroupfs, and oom_score_adj left to what the host
# allows (a VM or container without CAP_SYS_RESOURCE cannot lower it, and runc would fail every pod).
if [[ $cri == unix:///run/containerd/containerd.sock && ! -S /run/containerd/containerd.sock ]]; then
    echo "run: no containerd at $cri; starting one until this stops (log: $data/containerd.log)"
    cat >"$data/containerd.toml" <<'TOML'
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/snoop-pause:latest"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
TOML
    containerd --config "$data/containerd.toml" >"$data/containerd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
fi

.venv/bin/snoop collector &
pids+=($!)
for _ in $(seq 150); do curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS http://127.0.0.1:8080/readyz >/dev/null || { echo "run: collector did not become ready" >&2; exit 1; }

.venv/bin/snoop agent --collector 127.0.0.1:50051 --output "$data/reports" --spool-dir "$data/spool" &
pids+=($!)
for _ in $(seq 300); do curl -fsS http://127.0.0.1:9090/readyz >/dev/null 2>&1 && break; sleep 0.2; done
echo "run: web view and REST http://127.0.0.1:8080, gRPC ingest :50051, agent metrics :9090"
if [[ ${DEMO:-1} != 0 ]]; then
    demo=yes
    .venv/bin/snoop demo --cri-endpoint "$cri" || echo "run: the demo did not start (see above); snoop runs on"
fi
wait -n "${pids[@]}"
