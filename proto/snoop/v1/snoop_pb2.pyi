from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_KIND_UNSPECIFIED: _ClassVar[AccessKind]
    ACCESS_KIND_READ: _ClassVar[AccessKind]
    ACCESS_KIND_WRITE: _ClassVar[AccessKind]
    ACCESS_KIND_EXEC: _ClassVar[AccessKind]
    ACCESS_KIND_STAT: _ClassVar[AccessKind]
    ACCESS_KIND_READLINK: _ClassVar[AccessKind]

class FileType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_TYPE_UNSPECIFIED: _ClassVar[FileType]
    FILE_TYPE_FILE: _ClassVar[FileType]
    FILE_TYPE_DIR: _ClassVar[FileType]
    FILE_TYPE_SYMLINK: _ClassVar[FileType]
    FILE_TYPE_RUNTIME: _ClassVar[FileType]
    FILE_TYPE_MISSING: _ClassVar[FileType]
ACCESS_KIND_UNSPECIFIED: AccessKind
ACCESS_KIND_READ: AccessKind
ACCESS_KIND_WRITE: AccessKind
ACCESS_KIND_EXEC: AccessKind
ACCESS_KIND_STAT: AccessKind
ACCESS_KIND_READLINK: AccessKind
FILE_TYPE_UNSPECIFIED: FileType
FILE_TYPE_FILE: FileType
FILE_TYPE_DIR: FileType
FILE_TYPE_SYMLINK: FileType
FILE_TYPE_RUNTIME: FileType
FILE_TYPE_MISSING: FileType

class Container(_message.Message):
    __slots__ = ("node", "container_id", "name", "pod_name", "pod_namespace", "pod_uid", "image_reference", "image_digest", "image_id", "cgroup_id", "cgroup_path", "workload_kind", "workload_name", "started_at_unix_ns", "observed_from_unix_ns", "observed_until_unix_ns", "base_image_digest")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POD_NAME_FIELD_NUMBER: _ClassVar[int]
    POD_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    CGROUP_PATH_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_KIND_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FROM_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_UNTIL_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    BASE_IMAGE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    node: str
    container_id: str
    name: str
    pod_name: str
    pod_namespace: str
    pod_uid: str
    image_reference: str
    image_digest: str
    image_id: str
    cgroup_id: int
    cgroup_path: str
    workload_kind: str
    workload_name: str
    started_at_unix_ns: int
    observed_from_unix_ns: int
    observed_until_unix_ns: int
    base_image_digest: str
    def __init__(self, node: _Optional[str] = ..., container_id: _Optional[str] = ..., name: _Optional[str] = ..., pod_name: _Optional[str] = ..., pod_namespace: _Optional[str] = ..., pod_uid: _Optional[str] = ..., image_reference: _Optional[str] = ..., image_digest: _Optional[str] = ..., image_id: _Optional[str] = ..., cgroup_id: _Optional[int] = ..., cgroup_path: _Optional[str] = ..., workload_kind: _Optional[str] = ..., workload_name: _Optional[str] = ..., started_at_unix_ns: _Optional[int] = ..., observed_from_unix_ns: _Optional[int] = ..., observed_until_unix_ns: _Optional[int] = ..., base_image_digest: _Optional[str] = ...) -> None: ...

class FileAccess(_message.Message):
    __slots__ = ("path", "kinds", "first_seen_unix_ns", "last_seen_unix_ns", "type")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    kinds: int
    first_seen_unix_ns: int
    last_seen_unix_ns: int
    type: FileType
    def __init__(self, path: _Optional[bytes] = ..., kinds: _Optional[int] = ..., first_seen_unix_ns: _Optional[int] = ..., last_seen_unix_ns: _Optional[int] = ..., type: _Optional[_Union[FileType, str]] = ...) -> None: ...

class ContainerFiles(_message.Message):
    __slots__ = ("container", "files", "total_events")
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    container: Container
    files: _containers.RepeatedCompositeFieldContainer[FileAccess]
    total_events: int
    def __init__(self, container: _Optional[_Union[Container, _Mapping]] = ..., files: _Optional[_Iterable[_Union[FileAccess, _Mapping]]] = ..., total_events: _Optional[int] = ...) -> None: ...

class Batch(_message.Message):
    __slots__ = ("agent_id", "seq", "containers", "dropped_events")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    seq: int
    containers: _containers.RepeatedCompositeFieldContainer[ContainerFiles]
    dropped_events: int
    def __init__(self, agent_id: _Optional[str] = ..., seq: _Optional[int] = ..., containers: _Optional[_Iterable[_Union[ContainerFiles, _Mapping]]] = ..., dropped_events: _Optional[int] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("container_id", "path", "reason", "files", "detail")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    path: bytes
    reason: str
    files: int
    detail: str
    def __init__(self, container_id: _Optional[str] = ..., path: _Optional[bytes] = ..., reason: _Optional[str] = ..., files: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "files_accepted", "refused")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    FILES_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    seq: int
    files_accepted: int
    refused: _containers.RepeatedCompositeFieldContainer[Refusal]
    def __init__(self, seq: _Optional[int] = ..., files_accepted: _Optional[int] = ..., refused: _Optional[_Iterable[_Union[Refusal, _Mapping]]] = ...) -> None: ...

class WantedRequest(_message.Message):
    __slots__ = ("agent_id", "image_digests")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    image_digests: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., image_digests: _Optional[_Iterable[str]] = ...) -> None: ...

class WantedReply(_message.Message):
    __slots__ = ("image_digests",)
    IMAGE_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    image_digests: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, image_digests: _Optional[_Iterable[str]] = ...) -> None: ...

class InventoryFile(_message.Message):
    __slots__ = ("path", "type", "size", "target", "link_group")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    LINK_GROUP_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    type: FileType
    size: int
    target: bytes
    link_group: int
    def __init__(self, path: _Optional[bytes] = ..., type: _Optional[_Union[FileType, str]] = ..., size: _Optional[int] = ..., target: _Optional[bytes] = ..., link_group: _Optional[int] = ...) -> None: ...

class InventoryPackage(_message.Message):
    __slots__ = ("type", "name", "version", "purl", "files")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PURL_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    version: str
    purl: str
    files: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., purl: _Optional[str] = ..., files: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PackageError(_message.Message):
    __slots__ = ("type", "path", "reason")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    type: str
    path: str
    reason: str
    def __init__(self, type: _Optional[str] = ..., path: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class InventoryDone(_message.Message):
    __slots__ = ("source", "files", "package_errors")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    source: str
    files: int
    package_errors: _containers.RepeatedCompositeFieldContainer[PackageError]
    def __init__(self, source: _Optional[str] = ..., files: _Optional[int] = ..., package_errors: _Optional[_Iterable[_Union[PackageError, _Mapping]]] = ...) -> None: ...

class InventoryChunk(_message.Message):
    __slots__ = ("agent_id", "image_digest", "image_reference", "upload_id", "index", "files", "packages", "done")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    IMAGE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    image_digest: str
    image_reference: str
    upload_id: str
    index: int
    files: _containers.RepeatedCompositeFieldContainer[InventoryFile]
    packages: _containers.RepeatedCompositeFieldContainer[InventoryPackage]
    done: InventoryDone
    def __init__(self, agent_id: _Optional[str] = ..., image_digest: _Optional[str] = ..., image_reference: _Optional[str] = ..., upload_id: _Optional[str] = ..., index: _Optional[int] = ..., files: _Optional[_Iterable[_Union[InventoryFile, _Mapping]]] = ..., packages: _Optional[_Iterable[_Union[InventoryPackage, _Mapping]]] = ..., done: _Optional[_Union[InventoryDone, _Mapping]] = ...) -> None: ...

class InventoryAck(_message.Message):
    __slots__ = ("complete", "error")
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    complete: bool
    error: str
    def __init__(self, complete: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...
