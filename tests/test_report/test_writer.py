from __future__ import annotations

import json
import os

import pytest

from optimizer.exceptions import OptimizerError
from optimizer.report import REPORT_FILES, render_all, write_report, write_report_dir

from .conftest import build_report


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir())


def test_writes_all_files(tmp_path):
    out = write_report_dir(tmp_path / "run", {"a.txt": "ä\n", "b.bin": b"\x00\x01", "sub/c.txt": lambda: "c"})
    assert out == (tmp_path / "run").absolute()
    assert (out / "a.txt").read_bytes() == "ä\n".encode()
    assert (out / "b.bin").read_bytes() == b"\x00\x01"
    assert (out / "sub" / "c.txt").read_text() == "c"
    assert _leftovers(tmp_path) == ["run"]


def test_failing_producer_leaves_nothing(tmp_path):
    calls = []

    def boom():
        calls.append(1)
        raise RuntimeError("rendering failed midway")

    with pytest.raises(RuntimeError, match="midway"):
        write_report_dir(tmp_path / "run", {"params.json": "{}\n", "report.html": boom, "z.txt": "z"})
    assert calls == [1]
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_leaves_nothing(tmp_path):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_report_dir(tmp_path / "run", {"a": "1", "b": interrupted})
    assert _leftovers(tmp_path) == []


def test_bad_content_type_leaves_nothing(tmp_path):
    with pytest.raises(TypeError, match=r"'b' must be str or bytes, got int"):
        write_report_dir(tmp_path / "run", {"a": "1", "b": lambda: 3})
    assert _leftovers(tmp_path) == []


def test_existing_nonempty_target_refused_and_untouched(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.md").write_text("old")
    producer_called = []
    with pytest.raises(OptimizerError, match=r"report directory .*run already exists and is not empty"):
        write_report_dir(target, {"new.md": lambda: producer_called.append(1) or "new"})
    assert producer_called == []  # refused before rendering anything
    assert _leftovers(tmp_path) == ["run"]
    assert _leftovers(target) == ["old.md"]


def test_existing_file_target_refused(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(OptimizerError, match="is not a directory"):
        write_report_dir(tmp_path / "run", {"a": "1"}, overwrite=True)


def test_empty_target_is_replaced(tmp_path):
    (tmp_path / "run").mkdir()
    write_report_dir(tmp_path / "run", {"a": "1"})
    assert _leftovers(tmp_path / "run") == ["a"]


def test_overwrite_replaces_whole_directory(tmp_path):
    target = tmp_path / "run"
    write_report_dir(target, {"old.md": "old", "keep/x": "x"})
    write_report_dir(target, {"new.md": "new"}, overwrite=True)
    assert _leftovers(target) == ["new.md"]
    assert _leftovers(tmp_path) == ["run"]


def test_overwrite_failure_keeps_old_report(tmp_path):
    target = tmp_path / "run"
    write_report_dir(target, {"old.md": "old"})
    with pytest.raises(RuntimeError):
        write_report_dir(target, {"new.md": lambda: (_ for _ in ()).throw(RuntimeError("x"))}, overwrite=True)
    assert _leftovers(target) == ["old.md"]
    assert _leftovers(tmp_path) == ["run"]


@pytest.mark.parametrize("name", ["/abs.txt", "../escape.txt", "a/../../b", "", "a\\b"])
def test_bad_file_names_rejected_before_writing(tmp_path, name):
    with pytest.raises(ValueError, match="must be a relative path"):
        write_report_dir(tmp_path / "run", {name: "x"})
    assert _leftovers(tmp_path) == []


def test_creates_parent_and_respects_umask(tmp_path):
    out = write_report_dir(tmp_path / "a" / "b" / "run", {"f": "1"})
    mode = out.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask


def test_render_all_keys(report, no_figures):
    files = render_all(report)
    assert set(files) == set(REPORT_FILES) == {"params.json", "report.md", "report.html"}
    assert all(isinstance(v, str) for v in files.values())


def test_write_report_end_to_end_and_render_failure(tmp_path, report, monkeypatch, no_figures):
    out = write_report(report, tmp_path / "rep", extra_files={"config.toml": report.config_text})
    assert _leftovers(out) == ["config.toml", "params.json", "report.html", "report.md"]
    assert json.loads((out / "params.json").read_text())["meta"]["seed"] == 20240601

    import optimizer.report.writer as writer

    def broken(_report):
        raise ValueError("template error")

    monkeypatch.setattr(writer, "render_markdown", broken)
    with pytest.raises(ValueError, match="template error"):
        write_report(build_report(), tmp_path / "rep2")
    assert _leftovers(tmp_path) == ["rep"]
    with pytest.raises(ValueError, match="would replace a report file"):
        write_report(report, tmp_path / "rep3", extra_files={"report.md": "x"})
