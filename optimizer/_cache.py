"""On-disk, content-addressed cache of results that depend only on their inputs.

Where
-----
``$RISKOPT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/riskopt``, else ``~/.cache/riskopt``.
``RISKOPT_CACHE=off`` (or ``0``, ``no``, ``false``) turns it off: nothing is read or written.
``riskopt cache info`` prints the folder and what it holds; ``riskopt cache clear`` empties it.

What a key is
-------------
A caller passes its *content key*: everything the result depends on (a hash of the data slice,
the estimator and its settings, the seed); this module adds the namespace, :data:`FORMAT_VERSION`,
the riskopt version, the versions of the libraries the caller names (numpy, scipy, arch, ...) and
a hash of the source of the riskopt modules that compute the result, and hashes it all (SHA-256 of the key's ``repr``). A new release or library therefore never reads
an older result; the cache can only return what a recomputation would.

Safety
------
* A write goes to a temporary file in the entry's own folder, then ``os.replace`` puts it in
  place: a reader sees no file or a whole one, never a partial write. Two runs computing the same
  key at once both write the same bytes; the last replace wins.
* An entry that cannot be read (truncated by a full disk, another format) is a miss and is
  removed; it is recomputed.
* Entries are pickles: keep the cache folder private to its user (the default is), as for any
  cache of Python objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["FORMAT_VERSION", "CacheInfo", "DiskCache", "cache_dir", "cache_enabled", "clear", "info"]

#: Bumped when the layout or the pickled types change incompatibly.
FORMAT_VERSION = 1
_OFF = ("off", "0", "no", "false")
_SUFFIX = ".pkl"


def cache_enabled() -> bool:
    """False when ``RISKOPT_CACHE`` says off."""
    return os.environ.get("RISKOPT_CACHE", "").strip().lower() not in _OFF


def cache_dir() -> Path:
    """The cache folder (it may not exist yet): ``$RISKOPT_CACHE_DIR``, ``$XDG_CACHE_HOME/riskopt``
    or ``~/.cache/riskopt``."""
    env = os.environ.get("RISKOPT_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "riskopt"


@lru_cache(maxsize=None)
def _source_digest(modules: tuple[str, ...]) -> str:
    """SHA-256 of the source files of ``modules`` (a package: every ``.py`` file under it)."""
    import importlib.util

    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            digest.update(f"{name}:absent".encode())
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for f in files:
            digest.update(f.relative_to(origin.parent).as_posix().encode() + b"\x1f" + f.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=None)
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("riskopt", *packages):
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            out.append((name, "absent"))
    return tuple(out)


class DiskCache:
    """One namespace of the cache (``<cache dir>/<namespace>/``): ``get`` and ``put`` by content key.

    Parameters
    ----------
    namespace : str
        Folder name of this kind of result, e.g. ``"var_backtests"``.
    packages : tuple of str, optional
        Distributions whose versions enter every key (the libraries the result depends on).
    sources : tuple of str, optional
        Modules or packages of riskopt whose source enters every key (the code that computes the
        result), so an edited estimator never reads a result of the old code: the version
        number alone does not move between releases.
    directory : path, optional
        Cache folder; default :func:`cache_dir` read at every call, so the environment of the
        moment decides (tests point it at a temporary folder).
    """

    def __init__(self, namespace: str, *, packages: tuple[str, ...] = (), sources: tuple[str, ...] = (),
                 directory: str | Path | None = None) -> None:
        if not namespace or "/" in namespace or namespace.startswith("."):
            raise ValueError(f"`namespace` must be a plain folder name, got {namespace!r}")
        self.namespace = namespace
        self.packages = tuple(packages)
        self.sources = tuple(sources)
        self.directory = None if directory is None else Path(directory)

    def __repr__(self) -> str:
        return (f"DiskCache({self.namespace!r}, packages={self.packages!r}, sources={self.sources!r}, "
                f"directory={self.directory!r})")

    def key(self, content: Any) -> str:
        """SHA-256 (hex) of the content key with the namespace, format, versions and sources."""
        full = (FORMAT_VERSION, self.namespace, _versions(self.packages), _source_digest(self.sources), content)
        return hashlib.sha256(repr(full).encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        root = self.directory if self.directory is not None else cache_dir()
        return root / self.namespace / key[:2] / (key + _SUFFIX)

    def get(self, content: Any) -> Any | None:
        """The stored value of ``content``, or None (a miss, or the cache is off)."""
        if not cache_enabled():
            return None
        path = self._path(self.key(content))
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 (any unreadable entry is a miss: recompute, drop it)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put(self, content: Any, value: Any) -> None:
        """Store ``value`` under ``content`` (atomically); a failure to write is not an error."""
        if not cache_enabled():
            return
        path = self._path(self.key(content))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:  # a read-only or full disk: the run goes on without caching
            return


@dataclass(frozen=True, eq=False)
class CacheInfo:
    """What the cache folder holds.

    Attributes
    ----------
    path : Path
    enabled : bool
    entries : dict of str to int
        Namespace -> number of entries.
    bytes : int
        Total size of the entries.
    """

    path: Path
    enabled: bool
    entries: dict[str, int]
    bytes: int

    def summary(self) -> str:
        state = "on" if self.enabled else "off (RISKOPT_CACHE)"
        lines = [f"cache: {self.path} ({state})"]
        for ns, n in sorted(self.entries.items()):
            lines.append(f"  {ns}: {n} entr{'y' if n == 1 else 'ies'}")
        total = sum(self.entries.values())
        lines.append(f"  total: {total} entr{'y' if total == 1 else 'ies'}, {self.bytes / 1e6:.1f} MB")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _entries(root: Path) -> list[Path]:
    return [p for p in root.glob(f"*/??/*{_SUFFIX}") if not p.name.startswith(".tmp-")] if root.is_dir() else []


def info(directory: str | Path | None = None) -> CacheInfo:
    """Entries and size of the cache folder (default :func:`cache_dir`)."""
    root = Path(directory) if directory is not None else cache_dir()
    entries: dict[str, int] = {}
    size = 0
    for p in _entries(root):
        ns = p.parent.parent.name
        entries[ns] = entries.get(ns, 0) + 1
        try:
            size += p.stat().st_size
        except OSError:
            pass
    return CacheInfo(path=root, enabled=cache_enabled(), entries=entries, bytes=size)


def clear(directory: str | Path | None = None) -> int:
    """Remove every entry (and left-over temporary files) of the cache folder; return how many entries."""
    root = Path(directory) if directory is not None else cache_dir()
    n = 0
    if not root.is_dir():
        return 0
    for p in root.glob(f"*/??/*{_SUFFIX}"):
        try:
            p.unlink()
            n += not p.name.startswith(".tmp-")
        except OSError:
            pass
    for d in sorted(root.glob("*/??"), reverse=True) + sorted(root.glob("*"), reverse=True):
        try:
            d.rmdir()  # only empty folders go; anything else a user put there stays
        except OSError:
            pass
    return n
