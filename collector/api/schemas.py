"""What each JSON answer holds, for the OpenAPI page and its clients. The routes build their bodies
directly (a report of 100,000 files is not walked through pydantic); these models document them and a
test checks real answers against them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel as _Base
from pydantic import ConfigDict, Field


class BaseModel(_Base):
    model_config = ConfigDict(extra="forbid")  # a field the answer has and the model lacks is a test failure


class SeverityCounts(BaseModel):
    CRITICAL: int = 0
    HIGH: int = 0
    MEDIUM: int = 0
    LOW: int = 0
    UNKNOWN: int = 0


class InUse(BaseModel):
    in_use: dict[str, int] = Field(description="in-use vulnerabilities by severity, from the latest scan")


class ImageOut(BaseModel):
    digest: str
    references: list[str]
    containers: int = Field(description="container instances that ran the image")
    files: int = Field(description="used files: the files and symlinks its containers used (with those created at "
                                   "run time), as everywhere; directories apart")
    directories: int = Field(description="directories its containers listed or opened")
    bytes: int | None = Field(description="what the image holds (null until inventoried)")
    used_bytes: int | None = Field(description="bytes of the image's files that some container used")
    first_seen: str | None
    last_seen: str | None
    vulnerabilities: InUse | None = None


class ImageList(BaseModel):
    images: list[ImageOut]
    total: int


class FileOut(BaseModel):
    path: str = Field(description="bytes that are not UTF-8 appear as \\udcXX (surrogateescape)")
    type: str = Field(description="file, symlink, dir, runtime or unknown")
    containers: int = Field(description="container instances that used it")
    nodes: int | None = Field(None, description="nodes those ran on, of those that still run the image (in pages, "
                                                "with limit)")
    kinds: list[str]
    first_seen: str | None
    last_seen: str | None
    size: int | None = Field(None, description="from the image's inventory")
    package: str | None = Field(None, description="the first package owning the file")


class ImageFiles(BaseModel):
    image: ImageOut
    files: list[FileOut]
    total: int
    next: str | None = Field(None, description="a page's last path as a cursor: pass it as `after`")


class FilesAndBytes(BaseModel):
    files: int
    bytes: int


class Inventory(BaseModel):
    files: int | None
    bytes: int | None
    source: str | None = Field(description="layers (the image itself) or rootfs (a container's root)")


class PackageCounts(BaseModel):
    total: int
    used: int
    unused: int


class Coverage(BaseModel):
    instances: int
    nodes: int
    observed_seconds: int = Field(description="wall-clock span during which at least one container of the image "
                                              "was watched running, heartbeats included")
    container_seconds: int = Field(description="the instances' spans added up")
    last_new_file: str | None


class CurvePoint(BaseModel):
    at: str
    files: int = Field(description="used files (files, symlinks, untyped) first used by then")


class Discovery(BaseModel):
    curve: list[CurvePoint]
    stable_since: str | None = Field(description="when a container last used a file no container had used before")
    container_hours_since: float
    nodes_since: int


class Summary(BaseModel):
    image: ImageOut
    inventory: Inventory
    used: FilesAndBytes | None
    unused: FilesAndBytes | None
    runtime_created: dict[str, int] | None = Field(description="null until the image's inventory is complete")
    packages: PackageCounts | None
    package_errors: list[dict[str, str]]
    discovery: Discovery
    coverage: Coverage


class PackageOut(BaseModel):
    type: str
    name: str
    version: str
    purl: str
    files: int
    bytes: int
    used_files: int
    used_bytes: int
    used: bool


class Packages(BaseModel):
    image: ImageOut
    packages: list[PackageOut]
    total: int


class Evidence(BaseModel):
    files: list[str]
    containers: int
    last_seen: str | None


class Verdict(BaseModel):
    id: str
    severity: str
    package: str
    version: str
    type: str
    purl: str
    evidence: Evidence | None = None
    reason: str | None = Field(None, description="why the verdict is unknown")


class Vulnerabilities(BaseModel):
    image: ImageOut
    scanner: str
    inventory: str = Field(description="complete, or pending: every verdict is unknown until it completes")
    coverage: Coverage
    counts: dict[str, dict[str, int]]
    in_use: list[Verdict]
    not_in_use: list[Verdict]
    unknown: list[Verdict]
    warnings: list[str] = Field([], description="on upload: what was read but may be missed")


class PackageChange(BaseModel):
    type: str
    name: str
    version: str


class Diff(BaseModel):
    base: str
    head: str
    added: list[str]
    removed: list[str]
    common: list[str]
    packages: dict[str, list[PackageChange]]
    bytes: dict[str, int | None]
    vulnerabilities: dict[str, list[str]] | None


class WorkloadOut(BaseModel):
    namespace: str
    name: str
    kind: str
    kind_source: str
    pods: int
    containers: int
    images: list[str]
    first_seen: str | None
    last_seen: str | None


class WorkloadList(BaseModel):
    workloads: list[WorkloadOut]
    total: int


class WorkloadFiles(BaseModel):
    namespace: str
    name: str
    files: list[FileOut]
    total: int


class WritableOut(BaseModel):
    path: str
    files_written: int
    image_files: int | None  # files the image holds there (an emptyDir would hide them); null: no inventory


class HardenedContainer(BaseModel):
    name: str
    writable: list[WritableOut]


class Hardening(BaseModel):
    """A read-only root for the workload's containers: the directories to keep writable, and the patch."""

    namespace: str
    name: str
    kind: str
    containers: list[HardenedContainer]
    patch: dict[str, Any] | None  # a strategic-merge patch; null for a kind without a known pod template
    notes: list[str]
    limits: list[str]


class PodReport(BaseModel):
    """The original snoop sidecar's report format."""

    pod_name: str
    namespace: str
    node: str
    started_at: str
    last_updated_at: str
    containers: list[dict[str, Any]]
    total_events: int
    dropped_events: int


class PlannedPath(BaseModel):
    path: str
    type: str = Field(description="file, symlink, dir, unknown, or missing: a path a slim image of this one lacked")


class SlimEvidence(BaseModel):
    instances: int
    nodes: int
    observed_seconds: int
    last_new_file: str | None
    keep_list_sha256: str
    missed_by_slim_images: int


class SlimPlan(BaseModel):
    digest: str
    paths: list[PlannedPath]
    evidence: SlimEvidence


class Miss(BaseModel):
    path: str = Field(description="as the container looked for it")
    held_at: str = Field(description="where the base holds it, its symlinks followed")
    containers: int
    last_seen: str | None


class Verification(BaseModel):
    image: str
    base: str
    base_inventory: bool = Field(description="false: the base's inventory is not recorded, no miss can be told yet")
    status: str = Field(description="clean, broken or unobserved")
    coverage: Coverage
    missing: list[Miss]
