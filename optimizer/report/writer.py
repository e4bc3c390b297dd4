"""The one place report files reach the disk: all of them, or none.

:func:`write_report_dir` writes every file into a hidden temporary sibling of the target directory
(``.<name>.tmp-<random>``) and renames it into place only when all files are written. Any exception
on the way, ``KeyboardInterrupt`` included, removes the temporary directory and propagates, so a
reader never finds a half-written report. File contents may be given as callables, which are called
inside that protection: an error while rendering also leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TypeAlias

from optimizer.exceptions import OptimizerError
from optimizer.report.html import render_html
from optimizer.report.json_out import params_json
from optimizer.report.markdown import render_markdown
from optimizer.report.model import RunReport

logger = logging.getLogger(__name__)

#: The content of one file: text (written as UTF-8), bytes, or a callable producing either.
FileContent: TypeAlias = "str | bytes | Callable[[], str | bytes]"

#: Files of a report directory, in the order they are written.
REPORT_FILES = ("params.json", "report.md", "report.html")


def _check_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) or "\\" in name:
        raise ValueError(
            f"file name {name!r} must be a relative path inside the report directory "
            "(no leading '/', no '..', forward slashes only)"
        )
    return p


def _is_nonempty_dir(path: Path) -> bool:
    with os.scandir(path) as it:
        return any(True for _ in it)


def _check_target(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise OptimizerError(f"report directory {out_dir} exists and is not a directory")
        if not overwrite and _is_nonempty_dir(out_dir):
            raise OptimizerError(
                f"report directory {out_dir} already exists and is not empty; "
                "choose another output directory or allow overwriting"
            )


def check_out_dir(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Raise the error :func:`write_report_dir` would raise for ``out_dir``, before any work is done."""
    _check_target(Path(out_dir).absolute(), overwrite)


def _sibling(out_dir: Path, tag: str) -> Path:
    """Create and return an empty hidden directory next to ``out_dir`` (respects the umask)."""
    for _ in range(100):
        candidate = out_dir.with_name(f".{out_dir.name}.{tag}-{secrets.token_hex(4)}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise OptimizerError(f"could not create a temporary directory next to {out_dir}")


def _write_one(root: Path, name: str, content: FileContent) -> None:
    data = content() if callable(content) else content
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"content of report file {name!r} must be str or bytes, got {type(data).__name__}")
    path = root.joinpath(*_check_name(name).parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def _install(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    """Move the finished ``tmp`` directory to ``out_dir``."""
    _check_target(out_dir, overwrite)
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    if not _is_nonempty_dir(out_dir):
        out_dir.rmdir()
        os.rename(tmp, out_dir)
        return
    # overwrite=True and a previous report is there: swap it out, swap the new one in, then delete it.
    old = _sibling(out_dir, "old")
    old.rmdir()
    os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_report_dir(
    out_dir: str | os.PathLike[str], files: Mapping[str, FileContent], *, overwrite: bool = False
) -> Path:
    """Write ``files`` into ``out_dir`` atomically: afterwards it holds all of them or is unchanged.

    Parameters
    ----------
    out_dir : path
        The report directory. Its parent is created if needed.
    files : mapping of str to str, bytes or callable
        Relative file name (subdirectories allowed, forward slashes) to content. Text is written as
        UTF-8 without newline translation. A callable is called once, inside the protection.
    overwrite : bool, default False
        Replace an existing non-empty ``out_dir``. The old directory is moved aside and deleted only
        after the new one is in place. An empty existing directory is always replaced.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    OptimizerError
        When ``out_dir`` exists and is not empty and ``overwrite`` is False, or is not a directory.
    ValueError
        For a file name that is absolute or leaves the directory.
    """
    out_dir = Path(out_dir).absolute()
    for name in files:
        _check_name(name)
    _check_target(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(out_dir, "tmp")
    try:
        for name, content in files.items():
            _write_one(tmp, name, content)
        _install(tmp, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote report to %s (%d files)", out_dir, len(files))
    return out_dir


def render_all(report: RunReport) -> dict[str, str]:
    """Render the three report files: ``params.json``, ``report.md`` and ``report.html``."""
    return {
        "params.json": params_json(report),
        "report.md": render_markdown(report),
        "report.html": render_html(report),
    }


def write_report(
    report: RunReport,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    extra_files: Mapping[str, FileContent] | None = None,
) -> Path:
    """Render ``report`` and write it to ``out_dir`` with :func:`write_report_dir`.

    Rendering happens inside the writer's protection, so a rendering error leaves no directory.

    Parameters
    ----------
    report : RunReport
    out_dir : path
    overwrite : bool, default False
    extra_files : mapping, optional
        More files to write beside the report (e.g. ``"config.toml"``); same rules as ``files``
        in :func:`write_report_dir`.

    Returns
    -------
    Path
        ``out_dir``.
    """
    files: dict[str, FileContent] = {
        "params.json": lambda: params_json(report),
        "report.md": lambda: render_markdown(report),
        "report.html": lambda: render_html(report),
    }
    for name, content in (extra_files or {}).items():
        if name in files:
            raise ValueError(f"extra file {name!r} would replace a report file; rename it")
        files[name] = content
    return write_report_dir(out_dir, files, overwrite=overwrite)
