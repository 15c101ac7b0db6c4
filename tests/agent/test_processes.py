"""Working directories and directory fds of processes that are already gone (an empty /proc)."""

from __future__ import annotations

from pathlib import Path

from snoop.agent.processes import ProcessTable


def test_cwd_follows_chdir_fchdir_and_fork_without_proc(tmp_path: Path) -> None:
    table = ProcessTable(proc_root=str(tmp_path))  # nothing under it: every process has exited
    assert table.cwd(5) is None
    table.on_chdir(5, b"/app//data/")
    assert table.cwd(5) == b"/app/data"
    table.on_chdir(5, b"../dir/./sub")
    assert table.cwd(5) == b"/app/dir/sub"
    table.on_fork(5, 6)
    assert table.cwd(6) == b"/app/dir/sub"
    table.on_opendir(6, 3, b"/app/fdir")
    assert table.fd_path(6, 3) == b"/app/fdir"
    table.on_fchdir(6, 3)
    assert table.cwd(6) == b"/app/fdir"
    assert table.cwd(5) == b"/app/dir/sub"  # the parent stays where it was


def test_child_inherits_directory_fds(tmp_path: Path) -> None:
    table = ProcessTable(proc_root=str(tmp_path))
    table.on_opendir(5, 3, b"/srv")
    table.on_fork(5, 6)
    table.on_opendir(5, 4, b"/later")  # opened after the fork: the parent's only
    assert table.fd_path(6, 3) == b"/srv" and table.fd_path(6, 4) is None
    table.on_fchdir(6, 3)
    assert table.cwd(6) == b"/srv"


def test_reused_fd_number_names_the_newest_directory(tmp_path: Path) -> None:
    table = ProcessTable(proc_root=str(tmp_path))
    table.on_opendir(7, 4, b"/a")
    table.on_opendir(7, 4, b"/b")
    assert table.fd_path(7, 4) == b"/b"


def test_tables_are_bounded(tmp_path: Path) -> None:
    table = ProcessTable(proc_root=str(tmp_path), capacity=2)
    for pid in range(5):
        table.on_chdir(pid, b"/p%d" % pid)
        table.on_opendir(pid, 3, b"/d%d" % pid)
    assert table.cwd(0) is None and table.cwd(4) == b"/p4"
    assert table.fd_path(0, 3) is None and table.fd_path(4, 3) == b"/d4"


def test_cwd_is_read_from_proc_when_no_event_told_it(tmp_path: Path) -> None:
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "cwd").symlink_to("/srv/app")
    assert ProcessTable(proc_root=str(tmp_path)).cwd(9) == b"/srv/app"
