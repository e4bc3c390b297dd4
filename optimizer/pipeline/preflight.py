"""Checks of a run's inputs that need no computation, made before the first long stage.

The config file is validated when it is parsed (:func:`~optimizer.pipeline.config.load_config`);
this adds what the parser cannot see: a CSV book (read in full, so a binary file or an account
owing without collateral fails in a second rather than after the scenarios), the reference book
and data directory, and ``[search] storage`` (driver, folder, a server that answers). Each failure
is one :class:`~optimizer.exceptions.OptimizerError` naming the file, line or URL.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.exceptions import ConfigError, DataError
from optimizer.pipeline.config import RunConfig


def book_path(cfg: RunConfig) -> Path:
    """``[book] path``, relative to the config file's folder."""
    path = Path(cfg.book.path or "")
    if not path.is_absolute() and cfg.path:
        path = Path(cfg.path).parent / path
    return path


def check_inputs(cfg: RunConfig, *, data_dir: str | Path | None = None) -> None:
    """Raise the first input error of ``cfg`` that can be found without computing anything."""
    from optimizer.data import resolve_data_dir

    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir)  # raises when missing
    if cfg.book.kind == "csv":
        from optimizer.protocol.books import load_book_csv

        load_book_csv(book_path(cfg), cfg.asset_names)
    elif cfg.book.reference is not None:
        ref = Path(cfg.book.reference)
        ref = ref if ref.is_absolute() else Path(ddir) / ref
        if not ref.is_file():
            raise DataError(f"[book] reference = {cfg.book.reference!r}: file {ref} not found")
    if cfg.simulation.enabled and cfg.search.enabled and cfg.search.storage is not None:
        from optimizer.optimize.search import check_storage

        try:
            check_storage(cfg.search.storage)
        except ValueError as err:
            raise ConfigError(f"[search] storage: {err}") from None
