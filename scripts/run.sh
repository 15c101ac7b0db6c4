#!/usr/bin/env bash
# `make run`: a collector (SQLite by default) and this node's agent, in the foreground; Ctrl-C stops both.
# REST and the web view on 127.0.0.1:8080, gRPC ingest on :50051, agent metrics on :9090. Override with
# SNOOP_* variables (SNOOP_DB=postgresql+psycopg://…, SNOOP_HTTP_LISTEN=0.0.0.0:8080 with SNOOP_TOKEN=…).
# When the CRI runs no pods, a demo (two versions of a sample app) starts too; DEMO=0 turns it off.
# Ctrl-C, SIGTERM or a closed terminal: the demo's pods go first, then the agent and the collector, then the
# containerd this started (in a session of its own, so a terminal's SIGINT does not reach it first).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SNOOP_DATA:-$PWD/.snoop}
mkdir -p "$data"
export SNOOP_DB=${SNOOP_DB:-sqlite:///$data/snoop.db}
export SNOOP_HTTP_LISTEN=${SNOOP_HTTP_LISTEN:-127.0.0.1:8080}
cri=${SNOOP_CRI_ENDPOINT:-unix:///run/containerd/containerd.sock}
export SNOOP_CRI_ENDPOINT=$cri

pids=()       # the agent and the collector
runtime=""    # the containerd this script started, if any
demo=no
stop() {
    trap - EXIT INT TERM HUP
    echo "run: stopping"
    [[ $demo == yes ]] && .venv/bin/snoop demo --stop --cri-endpoint "$cri" || true
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    if [[ -n $runtime ]]; then
        kill -TERM "$runtime" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$runtime" 2>/dev/null || break; sleep 0.1; done
    fi
    echo "run: stopped"
}
trap stop EXIT INT TERM HUP

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
    setsid containerd --config "$data/containerd.toml" >"$data/containerd.log" 2>&1 &
    runtime=$!
    for _ in $(seq 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
fi

rest=http://127.0.0.1:${SNOOP_HTTP_LISTEN##*:}
echo "run: collector (database $SNOOP_DB; log: $data/collector.log)"
.venv/bin/snoop collector >"$data/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do curl -fsS "$rest/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$rest/readyz" >/dev/null || { echo "run: collector did not become ready (see $data/collector.log)" >&2; exit 1; }

echo "run: agent (compiling its BPF program takes a few seconds; log: $data/agent.log)"
.venv/bin/snoop agent --collector 127.0.0.1:50051 --output "$data/reports" --spool-dir "$data/spool" \
    >"$data/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -fsS http://127.0.0.1:9090/readyz >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS http://127.0.0.1:9090/readyz >/dev/null || { echo "run: agent did not become ready (see $data/agent.log)" >&2; exit 1; }
echo "run: web view and REST $rest, gRPC ingest :50051, agent metrics :9090"
if [[ ${DEMO:-1} != 0 ]]; then
    demo=yes
    .venv/bin/snoop demo --cri-endpoint "$cri" --server "$rest" || echo "run: the demo did not start (see above); snoop runs on"
fi
wait -n "${pids[@]}"
