"""Files a user hands us and files we write for them: read safely, write atomically.

Why one module: every command reads some user file (a plan, an answers file, a board
profile, a capture) and several write one (``--json``, ``--html``, ``--csv``). Hostile or
just wrong files — binary data, a 5,000-deep nested TOML, a device node, ``/proc/version``,
a directory — must end in one line naming the file and what is wrong, never a traceback,
and an output must never leave half a file or replace something that is not a regular file.
It lives in :mod:`protocols` so both :mod:`spasim` and :mod:`bench` may use it.

Reading: :func:`read_text_file` (size cap, "not a text file" for binary, UTF-8 with the
offset of the first bad byte) and :func:`load_toml` (that, plus a nesting-depth cap that is
checked without letting the parser's recursion blow the stack).

Writing: :func:`check_output_path` before the work starts (parent is a directory, target
absent or a regular file, a probe file can be created there), then :func:`write_atomic`
(temporary file in the same directory, fsync, ``os.replace``; the temporary file is removed
on any failure).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

MAX_TEXT_BYTES = 4 * 1024 * 1024
"""Largest plan/answers/profile file read (a real one is a few kB)."""
MAX_TOML_DEPTH = 16
"""Deepest nesting of tables/arrays accepted in a TOML file (real files use 2–3)."""
STDOUT = "-"
"""The output file name that means standard output."""


class InputFileError(ValueError):
    """A user file cannot be used; the message is one line naming the file."""


class OutputPathError(ValueError):
    """An output destination cannot be written; the message is one line naming it.

    Raised by :func:`check_output_path` before any work: the user's argument is wrong.
    """


class OutputWriteError(Exception):
    """Writing an output failed after the checks passed (disk full, I/O error); one line."""


# ----------------------------------------------------------------------------- reading


def read_text_file(path: str | os.PathLike[str], what: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path``; :class:`InputFileError` ("{what} {path}: ...") otherwise.

    Reads at most ``max_bytes + 1`` bytes, so ``/dev/zero`` or a huge file cannot exhaust
    memory; NUL bytes mean binary data (no text format of ours contains one).
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise InputFileError(f"cannot read {what} {name}: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{what} {name}: larger than {max_bytes} bytes")
    if b"\0" in data:
        raise InputFileError(f"{what} {name}: not a text file (binary data)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{what} {name}: not UTF-8 text (byte 0x{data[error.start]:02X} at offset "
            f"{error.start})"
        ) from None


def _depth(value: Any) -> int:
    """Nesting depth of parsed TOML data, walked without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        pending.extend((child, level + 1) for child in children)
    return deepest


def parse_toml(text: str, source: str, max_depth: int = MAX_TOML_DEPTH) -> dict[str, Any]:
    """Parse TOML text; :class:`InputFileError` ("{source}: ...") for bad or too-deep input."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputFileError(f"{source}: not valid TOML: {error}") from None
    except RecursionError:
        # tomllib recurses per nesting level; the stack is back to normal once it unwinds.
        raise InputFileError(f"{source}: nested more than {max_depth} levels deep") from None
    if _depth(data) > max_depth:
        raise InputFileError(f"{source}: nested more than {max_depth} levels deep")
    return data


def load_toml(
    path: str | os.PathLike[str], what: str, max_bytes: int = MAX_TEXT_BYTES
) -> dict[str, Any]:
    """:func:`read_text_file` then :func:`parse_toml`, errors naming ``what`` and the path."""
    text = read_text_file(path, what, max_bytes)
    return parse_toml(text, f"{what} {os.fspath(path)}")


# ----------------------------------------------------------------------------- writing


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_non_regular(target: Path) -> None:
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise OutputPathError(f"cannot write {target}: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):
        raise OutputPathError(
            f"cannot write {target}: it is {_kind(mode)}; only a regular file is ever replaced"
        )


def check_output_path(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, a destination :func:`write_atomic` could not write.

    The parent must be an existing directory in which a file can be created (checked by
    creating and removing a probe file: permissions, read-only mounts and ``/proc`` all show
    up), and the target must be absent or a regular file — never a directory, device, FIFO,
    socket or symbolic link. ``-`` (standard output) is always fine.
    """
    if os.fspath(path) == STDOUT:
        return
    target = Path(path)
    parent = target.parent
    if not parent.is_dir():
        reason = "does not exist" if not parent.exists() else "is not a directory"
        raise OutputPathError(f"cannot write {target}: {parent} {reason}")
    _refuse_non_regular(target)
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as error:
        raise OutputPathError(
            f"cannot write {target}: cannot create a file in {parent}: {error.strerror or error}"
        ) from None


def _file_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all (``-``: standard output).

    A temporary file next to the target is written, fsynced and renamed over it; on any
    failure it is removed and the target is as it was. :class:`OutputPathError` if the
    destination is unusable, :class:`OutputWriteError` if the writing itself fails.
    """
    if os.fspath(path) == STDOUT:
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
        else:
            sys.stdout.write(content)
        sys.stdout.flush()
        return
    check_output_path(path)
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as error:
        raise OutputWriteError(f"cannot write {target}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), _file_mode(target))
            os.fsync(stream.fileno())
        _refuse_non_regular(target)  # it may have changed since the check
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise OutputWriteError(f"cannot write {target}: {error.strerror or error}") from None
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
