"""Files with personal data that vivier writes (exports, dry-run samples): owner-only, never
through a symbolic link, never over another file, and purged when old."""

from __future__ import annotations

import os
import time
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
# A new file only: O_EXCL refuses an existing file or a symlink left in its place.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class OutputProblem(ValueError):
    """A file vivier was asked to write where it must not: say where and what to do instead."""


def check_target(path: Path, *, make_folder: bool = False) -> Path:
    """Refuse a folder, a symbolic link or a missing folder as where to write `path`."""
    path = Path(path)
    if path.is_symlink():
        raise OutputProblem(f"{path} is a symbolic link: vivier never writes through one; "
                            "name the file itself")
    if path.is_dir():
        raise OutputProblem(f"{path} is a folder: name a file in it, e.g. {path / 'out.json'}")
    if not path.parent.is_dir():
        if not make_folder or path.parent.exists():
            raise OutputProblem(f"the folder {path.parent} does not exist: create it first, or "
                                "choose another path")
        path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write a new file readable by its owner only; an existing file is never replaced."""
    path = check_target(path)
    try:
        descriptor = os.open(path, _NEW_FILE, PRIVATE_FILE)
    except FileExistsError:
        raise OutputProblem(f"{path} already exists: vivier does not overwrite it; choose a new "
                            "file name (or remove the old file yourself)") from None
    except OSError as exc:
        raise OutputProblem(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    return path


def private_folder(path: Path) -> Path:
    """Create `path` (0700) if missing; tighten it to 0700 if it is ours and looser."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_FOLDER)
    return path


def purge_older_than(folder: Path, days: int, now: float | None = None) -> int:
    """Delete files under `folder` last written more than `days` ago (and emptied folders)."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - days * 86_400
    removed = 0
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        if path.is_symlink() or path.is_file():
            if path.lstat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed


_REPLACE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)


def replace_page(path: Path, page: bytes, title: bytes, what: str, *, private: bool) -> Path:
    """Write an HTML page vivier makes (a report, a preview, a timeline): a new file, or over an
    earlier page of the same kind (its `<title>` starts with `title`), never over anything else.

    A `private` page (personal data) is 0600, also when it replaces one; another is 0644
    (less what the umask takes) when created.
    OutputProblem for a folder, a symbolic link, or any other existing file.
    """
    path = check_target(path, make_folder=True)
    if path.exists() and not _is_page(path, title):
        raise OutputProblem(f"{path} exists and is not a vivier {what}: vivier does not "
                            "overwrite it; choose another file name")
    descriptor = os.open(path, _REPLACE, PRIVATE_FILE if private else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        if private:
            os.fchmod(file.fileno(), PRIVATE_FILE)  # a replaced page keeps its mode otherwise
        file.write(page)
    return path


def _is_page(path: Path, title: bytes) -> bool:
    """Whether `path` holds a page whose title (near the top) starts with `title`."""
    try:
        with open(path, "rb") as file:
            head = file.read(2048)
    except OSError:
        return False
    return head.lstrip().lower().startswith(b"<!doctype html>") and b"<title>" + title in head
