"""Tables of the collector. Paths are bytes (file names need not be UTF-8) interned once in ``paths``:
rows elsewhere carry an integer, and no index ever holds a 4 KiB key. Times are Unix nanoseconds.

``image_files`` is the per-image merge, kept current at ingest: ``containers`` counts the container
instances that touched the file and ``nodes`` the nodes they ran on, so a merged report is one indexed read,
not a GROUP BY over millions.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from snoop.common.limits import PATH_MAX


class Base(DeclarativeBase):
    pass


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), unique=True)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)


class ImageReference(Base):
    """Names an image was run under (``registry/app:1.2``); a reference can move to a new digest."""

    __tablename__ = "image_references"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    reference: Mapped[str] = mapped_column(String(1024), primary_key=True)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_image_references_reference", "reference", "last_seen_ns"),)


class ContainerInstance(Base):
    """One container of one pod on one node: a restart is a new instance (new container ID)."""

    __tablename__ = "container_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str] = mapped_column(String(253))
    container_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(253))
    namespace: Mapped[str] = mapped_column(String(253))
    pod: Mapped[str] = mapped_column(String(253))
    pod_uid: Mapped[str] = mapped_column(String(64))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    image_reference: Mapped[str] = mapped_column(String(1024))
    cgroup_id: Mapped[int] = mapped_column(BigInteger)
    cgroup_path: Mapped[str] = mapped_column(String(PATH_MAX))
    workload_kind: Mapped[str] = mapped_column(String(64))
    workload_name: Mapped[str] = mapped_column(String(253))
    started_at_ns: Mapped[int] = mapped_column(BigInteger)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)
    total_events: Mapped[int] = mapped_column(BigInteger)
    dropped_events: Mapped[int] = mapped_column(BigInteger)
    # The day its file rows are filed under (``InstanceFile.day``): the day it was first stored, moved on
    # by retention when that day's rows go while the container still runs.
    files_day: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        UniqueConstraint("node", "container_id", name="uq_container_instances_node_container"),
        Index("ix_container_instances_pod", "namespace", "pod"),
        Index("ix_container_instances_workload", "namespace", "workload_name"),
    )


class Path(Base):
    __tablename__ = "paths"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)  # sha256 of path
    path: Mapped[bytes] = mapped_column(LargeBinary)


# The two big tables carry no foreign keys: ingest writes them only with ids it has just read or
# written, and on PostgreSQL each FK check would lock a parent row per inserted row (1,000 per batch).


DAY_NS = 86_400 * 10**9


def day_of(ns: int) -> int:
    """Days since the Unix epoch (UTC): what file rows are filed under."""
    return ns // DAY_NS


class InstanceFile(Base):
    """``day`` is its instance's ``files_day``: on PostgreSQL the table is partitioned by it (0009), so that
    retention drops a day's rows whole instead of deleting them one by one. It is in the key only because a
    partitioned table's key must hold its partition column: an instance's rows share one day, so the key is
    still one row per instance and path (SQLite keeps that key, 0009)."""

    __tablename__ = "instance_files"

    instance_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kinds: Mapped[int] = mapped_column(Integer)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)
    file_type: Mapped[int] = mapped_column(SmallInteger, server_default="0")  # snoop.v1.FileType
    day: Mapped[int] = mapped_column(Integer, primary_key=True, server_default="0")

    __table_args__ = {"postgresql_partition_by": "RANGE (day)"}

    @classmethod
    def of(cls, instance: type[ContainerInstance]) -> ColumnElement[bool]:
        """The join to an instance's files: by its day too, so that PostgreSQL reads one day's partition."""
        return and_(cls.instance_id == instance.id, cls.day == instance.files_day)


PATH_KEY_BYTES = 256  # of a path, copied into image_files: its reports are read in path order from an index


class ImageFile(Base):
    """``path_key``: the path's first PATH_KEY_BYTES bytes (all of nearly every path). Ordered by it, an
    image's files come in path order straight from ``ix_image_files_order``: a page is a range read, the
    keep-list needs no sort and no join to ``paths`` (a PostgreSQL index entry could not hold a 4 KiB path)."""

    __tablename__ = "image_files"

    image_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    containers: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[int] = mapped_column(Integer)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)
    file_type: Mapped[int] = mapped_column(SmallInteger, server_default="0")  # the highest any instance saw
    path_key: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''"))
    nodes: Mapped[int] = mapped_column(Integer, server_default="0")  # nodes its instances ran on (spread.py)
    # PostgreSQL: the transaction that added the row (its default, never updated); SQLite: 0 (rowids serve).
    added_xid: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())

    # Covers a keep-list and each side of a diff: path order, the type filter, and the id to compare by.
    # Room in each page, so that the update of a merged row stays in its page and changes no index (0008).
    __table_args__ = (Index("ix_image_files_order", "image_id", "path_key", "file_type", "path_id"),
                      Index("ix_image_files_added", "image_id", "added_xid"),  # rows added since (diff.py)
                      {"postgresql_with": {"fillfactor": 60}})


class ImageFileCount(Base):
    """How many of an image's merged rows have each type: its header's files and directories and a page's
    total without counting 100,000 rows. Kept by triggers on ``image_files`` (0011), whatever writes it."""

    __tablename__ = "image_file_counts"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    file_type: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    files: Mapped[int] = mapped_column(BigInteger)


class ImageNodePath(Base):
    """An instance of the image on that node used that path (while the node runs the image: spread.py):
    what ``image_files.nodes`` counts. Keyed node first, so an instance's rows are one ascending run of the
    index, not a leaf per path."""

    __tablename__ = "image_node_paths"

    image_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # storage/spread.py's node_key
    path_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


class SlimImage(Base):
    """An image snoop built by slimming ``base_digest`` (its config's label, as agents report it)."""

    __tablename__ = "slim_images"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    base_digest: Mapped[str] = mapped_column(String(255))

    __table_args__ = (Index("ix_slim_images_base", "base_digest"),)


class ImageRevision(Base):
    """How many ingest transactions from each node changed an image's merged rows. Their sum moves
    with every change, so a cached report is checked against a few rows, not the image's 100,000;
    one row per node, so agents never wait on each other for it."""

    __tablename__ = "image_revisions"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    node: Mapped[str] = mapped_column(String(253), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


# What each image holds (its inventory), recorded once per digest by one agent. The join with
# image_files on (image_id, path_id) is what tells used from unused.


class Inventory(Base):
    """One image's inventory: complete once every chunk of one upload has arrived."""

    __tablename__ = "inventories"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    upload_id: Mapped[str] = mapped_column(String(64))
    next_index: Mapped[int] = mapped_column(Integer)     # the chunk expected next
    agent_id: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(16))      # "layers" | "rootfs", known once complete
    complete: Mapped[bool] = mapped_column(Boolean)
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)       # hard links counted once
    refused: Mapped[int] = mapped_column(Integer)        # entries refused at ingest (bad paths)
    package_errors: Mapped[str] = mapped_column(Text)    # JSON list of {type, path, reason}
    started_ns: Mapped[int] = mapped_column(BigInteger)
    completed_ns: Mapped[int] = mapped_column(BigInteger)


class InventoryFile(Base):
    __tablename__ = "inventory_files"

    image_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    file_type: Mapped[int] = mapped_column(SmallInteger)  # snoop.v1.FileType: FILE or SYMLINK
    size: Mapped[int] = mapped_column(BigInteger)
    link_group: Mapped[int] = mapped_column(BigInteger)   # hard links of one inode share a non-zero group
    target: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    directory_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))  # paths.id of its directory

    __table_args__ = (Index("ix_inventory_files_directory", "image_id", "directory_id"),)


class InventoryDirectory(Base):
    """Bytes and files below each directory of an image's inventory, summed once when it completes: a
    treemap of a 1,000,000-file image reads a few hundred of these rows, never the inventory."""

    __tablename__ = "inventory_directories"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    path_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))  # 0 for "/"
    bytes: Mapped[int] = mapped_column(BigInteger)       # below it, at any depth (hard links each time)
    files: Mapped[int] = mapped_column(Integer)
    own_bytes: Mapped[int] = mapped_column(BigInteger)   # of the files directly in it
    own_files: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_inventory_directories_parent", "image_id", "parent_id"),)


class Package(Base):
    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(256))
    purl: Mapped[str] = mapped_column(String(2048))
    files: Mapped[int] = mapped_column(Integer)           # of the inventory, set when it completes
    bytes: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("image_id", "type", "name", "version", name="uq_packages_identity"),)


class PackageFile(Base):
    """Which package owns which inventory file (a file may have several owners: a deb and a wheel)."""

    __tablename__ = "package_files"

    image_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    package_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class VulnerabilityScan(Base):
    """The latest scanner report per image and scanner, as findings; judged against usage when read."""

    __tablename__ = "vulnerability_scans"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    scanner: Mapped[str] = mapped_column(String(32), primary_key=True)
    findings: Mapped[str] = mapped_column(Text)            # JSON list of collector.vulns.scans.Finding
    uploaded_ns: Mapped[int] = mapped_column(BigInteger)
