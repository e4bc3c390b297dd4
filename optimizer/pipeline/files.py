"""The input files a run names in its configuration, by the name `riskopt reproduce` finds them by.

The price and volume files are recorded by the loaders (``PriceData.file_hashes``) and the peg
histories' by :func:`optimizer.pipeline.pegs.peg_inputs`; these are the others:
``[liquidity] depth_file`` and ``quotes_file``, ``[book] reference`` and ``[caps] current_file``, named relative to the data
directory like the price files, and a CSV book (``[book] path``), named as the config names it,
relative to the config file (:func:`config_relative_files`). The intraday table shipped in the package
is not listed: it is package data, versioned with the code (``package_version``) like every constant
of the package; a table in the data directory, which replaces it, is listed with the peg histories.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.pipeline.config import RunConfig

__all__ = ["book_csv_path", "config_file_hashes", "config_relative_files"]


def book_csv_path(cfg: RunConfig) -> Path:
    """The CSV book a ``[book] kind = "csv"`` run reads: ``[book] path``, relative to the config file."""
    path = Path(str(cfg.book.path))
    if not path.is_absolute() and cfg.path:
        path = Path(cfg.path).parent / path
    return path


def config_relative_files(cfg: RunConfig) -> list[str]:
    """Names of the recorded input files that are relative to the config file, not the data directory."""
    return [str(cfg.book.path)] if cfg.book.kind == "csv" and cfg.book.path else []


def config_file_hashes(cfg: RunConfig, data_dir: Path) -> dict[str, str]:
    """SHA-256 of each input file the config names (see the module docstring), by its recorded name."""
    from optimizer.data import file_sha256

    liq = cfg.liquidity
    in_data_dir = [liq.depth_file, liq.quotes_file, cfg.book.reference if cfg.book.kind != "csv" else None,
                   cfg.caps.current_file if cfg.caps.enabled else None]
    out = {str(name): file_sha256(Path(data_dir) / str(name)) for name in in_data_dir if name}
    for name in config_relative_files(cfg):
        out[name] = file_sha256(book_csv_path(cfg))
    return out
