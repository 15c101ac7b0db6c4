"""snoop: which files container images really use at run time. One package: agent, collector, cli, common, and
the gRPC contract (snoop.v1)."""
