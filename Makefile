# snoop — `make run` starts a collector and this node's agent; `make test` runs the whole suite.
# Every target installs what it needs first, idempotently: a fresh Debian 12 machine needs nothing else.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SNOOP := $(VENV)/bin/snoop
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# Running needs the BPF toolchain and a container runtime (busybox-static: the demo's sample app); the
# tests and benchmarks also build images (umoci; buildah for deploy/'s Dockerfiles), run crun, PostgreSQL,
# strace, bpftrace and a browser.
RUN_PACKAGES := python3-bpfcc libbpf1 python3-venv linux-headers-amd64 containerd runc busybox-static curl
TEST_PACKAGES := $(RUN_PACKAGES) crun umoci buildah debootstrap strace bpftrace postgresql gcc libc6-dev openssl \
                 chromium chromium-driver containernetworking-plugins iptables conntrack

.PHONY: all run test deps run-deps system venv tools proto check-proto bench lint clean cluster cluster-down images \
        manifests

all: test

deps: system venv tools

# Go tools pinned in tools/versions (syft, Trivy, CoreDNS) and tools/cluster/go.mod (Kubernetes, etcd, crictl,
# helm), built once per version into /var/cache/snoop-tools.
tools:
	@./scripts/tool.sh $$(awk '!/^#/ && NF { print $$1 }' tools/versions) kubelet

run-deps: $(RUN_STAMP)
	@./scripts/install-system.sh $(RUN_PACKAGES)

system:
	@./scripts/install-system.sh $(TEST_PACKAGES)

venv: $(STAMP)

# Running needs snoop alone; the tests add the dev extra (pytest, mypy, ruff, selenium, grpcio-tools).
$(RUN_STAMP): pyproject.toml
	@test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

proto: venv
	./proto/generate.sh

check-proto: venv
	./scripts/check-proto.sh

run: run-deps
	./scripts/run.sh

test: deps
	./scripts/test.sh $(ARGS)

bench: deps
	$(PY) bench/agent_overhead.py
	$(PY) bench/collector.py

# A single-node Kubernetes on this machine (tests/harness/cluster); it prints how to use it.
CLUSTER := .snoop/cluster
cluster: deps
	$(PY) -m tests.harness.cluster up $(CLUSTER)

cluster-down: venv
	$(PY) -m tests.harness.cluster down $(CLUSTER)

# Both images, with buildah (or docker where an engine runs); REGISTRY=host/path also pushes them there.
images:
	./scripts/images.sh $(REGISTRY)

# deploy/'s kustomize files, rendered from the Helm chart (deploy/helm/snoop).
manifests: tools
	./scripts/render-manifests.py

lint: venv
	$(VENV)/bin/ruff check agent collector cli common proto tests bench scripts
	$(PY) scripts/typecheck.py

# Also make run's data (.snoop: its database, reports and spool): the next make run starts over.
clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info .snoop
