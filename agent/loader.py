"""Compiles, loads and attaches the BPF program in a child process: the agent's only module that
imports bcc.

BCC compiles with an embedded clang/LLVM that stays mapped and resident once imported (about 140 MiB).
The agent runs for weeks and needs LLVM for two seconds, so a short-lived child does the compile, the
load and the attach, hands the agent the file descriptors that keep them alive (the maps it reads and
the tracepoints' perf events, over a socketpair with SCM_RIGHTS) and exits without detaching anything.

    python -m snoop.agent.loader FD      (FD: the child's end of the agent's socketpair)
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

# The maps the agent reads or writes after the load; the others live on in the programs that use them.
SHARED_MAPS = ("events", "cgroups", "procs", "stats", "missing_mode")
MAX_MESSAGE = 1 << 20
MAX_FDS = 250  # SCM_MAX_FD is 253


class LoadError(RuntimeError):
    """The child could not compile, load or attach the program; the message is the compiler's or BCC's."""


@dataclass
class Loaded:
    maps: dict[str, int]          # name -> fd, owned by the caller now
    types: dict[str, Any]         # "<map>.key", "<map>.value", "event" -> ctypes type, as BCC built it
    attachments: list[int]        # tracepoint perf events and raw tracepoint fds: attached while open
    peak_rss_kib: int             # the child's, compiler included
    seconds: float


# --- ctypes types as plain data: BCC builds them from the program's debug info in the child ----------

def describe(ctype: Any) -> dict[str, Any]:
    if issubclass(ctype, ctypes.Structure):
        return {"size": ctypes.sizeof(ctype),
                "fields": [[name, describe(t), getattr(ctype, name).offset] for name, t in ctype._fields_]}
    if issubclass(ctype, ctypes.Array):
        return {"array": describe(ctype._type_), "length": ctype._length_}
    return {"scalar": ctype.__name__}


def rebuild(desc: dict[str, Any], name: str = "struct") -> Any:
    """The ctypes type ``describe`` described; a layout that comes out different is refused, not guessed."""
    if "scalar" in desc:
        return getattr(ctypes, desc["scalar"])
    if "array" in desc:
        return rebuild(desc["array"]) * desc["length"]
    struct = type(name, (ctypes.Structure,), {"_fields_": [(f, rebuild(d, f)) for f, d, _ in desc["fields"]]})
    if ctypes.sizeof(struct) != desc["size"] or any(getattr(struct, f).offset != o for f, _, o in desc["fields"]):
        raise LoadError(f"{name}: ctypes lays the struct out differently from the BPF program")
    return struct


# --- the child ---------------------------------------------------------------------------------------

def peak_rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)


def load(text: str, cflags: list[str]) -> tuple[dict[str, Any], list[int]]:
    """Compiles and attaches; returns what the agent needs to know and the descriptors to hand it."""
    try:
        from bcc import BPF  # noqa: PLC0415 - only in the child
        from bcc.table import _get_event_class  # noqa: PLC0415
    except ImportError as exc:
        raise LoadError("python module bcc missing: install Debian's python3-bpfcc") from exc

    bpf = BPF(text=text.encode(), cflags=cflags)
    fds: list[int] = []
    maps: dict[str, int] = {}
    types: dict[str, Any] = {}
    for name in SHARED_MAPS:
        table = bpf[name.encode()]
        maps[name] = len(fds)
        fds.append(table.map_fd)
        if name == "events":
            types["event"] = describe(_get_event_class(table))
        else:
            value = getattr(table, "sLeaf", table.Leaf)  # per-CPU tables: one CPU's value
            types[f"{name}.key"], types[f"{name}.value"] = describe(table.Key), describe(value)
    attachments = [*bpf.tracepoint_fds.values(), *bpf.raw_tracepoint_fds.values()]
    meta = {"maps": maps, "types": types, "attachments": list(range(len(fds), len(fds) + len(attachments)))}
    return meta, fds + attachments


def child(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    request = json.loads(sock.recv(MAX_MESSAGE))
    try:
        meta, fds = load(request["text"], request["cflags"])
    except Exception as exc:  # noqa: BLE001 - bcc raises bare Exception; the agent gets the message
        sock.send(json.dumps({"error": str(exc)}).encode())
        return
    if len(fds) > MAX_FDS:
        sock.send(json.dumps({"error": f"{len(fds)} descriptors to hand over, at most {MAX_FDS}"}).encode())
        return
    meta["peak_rss_kib"] = peak_rss_kib()
    socket.send_fds(sock, [json.dumps(meta).encode()], fds)


# --- the agent's side --------------------------------------------------------------------------------

def spawn(text: str, cflags: list[str]) -> Loaded:
    """Runs the child and takes over what it loaded. The child's compiler output goes to our stderr."""
    start = time.monotonic()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours:
        proc = subprocess.Popen([sys.executable, "-m", "snoop.agent.loader", str(theirs.fileno())],
                                pass_fds=[theirs.fileno()])
        theirs.close()
        ours.send(json.dumps({"text": text, "cflags": cflags}).encode())
        message, fds, _flags, _addr = socket.recv_fds(ours, MAX_MESSAGE, MAX_FDS)
    code = proc.wait()
    try:
        if not message:
            raise LoadError(f"the BPF loader exited with code {code} before it answered")
        reply = json.loads(message)
        if "error" in reply:
            raise LoadError(reply["error"])
        return Loaded(
            maps={name: fds[i] for name, i in reply["maps"].items()},
            types={name: rebuild(desc, name.replace(".", "_")) for name, desc in reply["types"].items()},
            attachments=[fds[i] for i in reply["attachments"]],
            peak_rss_kib=reply["peak_rss_kib"],
            seconds=time.monotonic() - start,
        )
    except BaseException:
        for fd in fds:  # nothing half-taken: the program detaches with its last descriptor
            os.close(fd)
        raise


if __name__ == "__main__":
    child(int(sys.argv[1]))
    sys.stdout.flush()
    # Not sys.exit: BCC's atexit hook would disable the perf events the agent now holds.
    os._exit(0)
