"""Every user mistake of issue 11 through ``optimizer.cli.main``: its exit code, one stderr line naming
the culprit, no traceback, and, where the input can be checked up front, no stage started.

"No stage started" is read from the progress output: outside a terminal every stage prints one line
(``riskopt: [  1.2 s] loading prices``) as it starts, so an error whose stderr is that one error line
was raised before the first stage. The price cases are found when the prices are read (before the
first stage, or in it when ``as_of`` is set); they are asserted to stop there, before any model is fitted.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from optimizer.cli import ERR, TARGET_NOT_MET, TERMINATED, USAGE, main
from optimizer.pipeline.progress import LINE_PREFIX

PRICE_FILE = "binance_prices_daily.csv"

#: A search that runs quickly, for the storage cases (the storage is checked before it matters).
SEARCH = {"simulation": {"n_scenarios": 200}, "search": {"enabled": True, "n_trials": 2}}


def set_eth(value: str) -> Callable[[list[list[str]]], list[list[str]]]:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        i = next(k for k, r in enumerate(rows) if r[0] == "2024-06-03")
        rows[i][rows[0].index("eth")] = value
        return rows

    return edit


def book_file(tmp: Path, text: str | bytes) -> Path:
    p = tmp / "book.csv"
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


def current_file(tmp: Path, text: str | bytes, name: str = "current.csv") -> Path:
    p = tmp / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


def taken(tmp: Path) -> Path:
    d = tmp / "taken"
    d.mkdir()
    (d / "report.md").write_text("an earlier report\n")
    return d


BINARY = bytes(range(256)) * 8
CURRENT_HEADER = "asset,ltv,liquidation_threshold,liquidation_bonus\n"


# Each case: (argv builder, exit code, regexes the error line must match, checked up front?).
# The builder gets (make_config, edited_data, tmp_path, data_dir) and returns the arguments.
CASES = {
    "price-1e308": (lambda mk, ed, tmp, dd: ["run", mk(), "--data-dir", ed(set_eth("1e308"))],
                    ERR, [PRICE_FILE, "'eth'", "2024-06-03", "1e308"], False),
    "price-1e-300": (lambda mk, ed, tmp, dd: ["run", mk(), "--data-dir", ed(set_eth("1e-300"))],
                     ERR, [PRICE_FILE, "'eth'", "2024-06-03", "1e-300"], False),
    "empty-asset-name": (lambda mk, ed, tmp, dd: ["run", mk(raw=mk().read_text() + '\n[assets.""]\nsymbol = "X"\n'
                                                                                     "supplied_usd = 1e6\n")],
                         ERR, [r'\[assets\.""\]', "non-empty"], True),
    "seed-option-negative": (lambda mk, ed, tmp, dd: ["run", mk(), "--seed", "-1"],
                             ERR, ["--seed", "seed = -1", ">= 0"], True),
    "seed-config-negative": (lambda mk, ed, tmp, dd: ["run", mk({"run": {"seed": -3}})],
                             ERR, [r"\[run\] seed = -3", ">= 0"], True),
    "hf-min-above-median": (lambda mk, ed, tmp, dd: ["run", mk({"book": {"hf_min": 2.0, "hf_median": 1.6}})],
                            ERR, [r"\[book\] hf_min = 2.0", "hf_median = 1.6"], True),
    "storage-garbage": (lambda mk, ed, tmp, dd: ["run", mk({**SEARCH, "search": {**SEARCH["search"],
                                                                                 "storage": "garbage"}})],
                        ERR, [r"\[search\] storage = 'garbage'", "not a database URL"], True),
    "binary-book": (lambda mk, ed, tmp, dd: ["run", mk({"book": {"kind": "csv", "path": str(book_file(tmp, BINARY))}})],
                    ERR, ["book.csv", "not UTF-8"], True),
    "debt-without-collateral": (
        lambda mk, ed, tmp, dd: ["run", mk({"book": {"kind": "csv", "path": str(book_file(
            tmp, "account,asset,collateral_usd,debt_usd\na1,eth,1000000,0\na1,usdc,0,500000\na2,usdc,0,300000\n"))}})],
        ERR, ["book.csv", "line 4", "'a2'", "no collateral"], True),
    "current-nan": (lambda mk, ed, tmp, dd: ["recalibrate", mk(), "--current", current_file(
                        tmp, CURRENT_HEADER + "eth,0.8,nan,0.05\n")],
                    ERR, ["current.csv", "line 2", "eth", "liquidation_threshold = nan"], True),
    "current-binary": (lambda mk, ed, tmp, dd: ["recalibrate", mk(), "--current", current_file(tmp, BINARY)],
                       ERR, ["current.csv", "not UTF-8"], True),
    "current-conflicting-rows": (
        lambda mk, ed, tmp, dd: ["recalibrate", mk(), "--current", current_file(
            tmp, CURRENT_HEADER + "eth,0.8,0.83,0.05\neth,0.7,0.75,0.06\n")],
        ERR, ["current.csv", "line 3", "line 2", "eth"], True),
    "current-json-duplicate-key": (
        lambda mk, ed, tmp, dd: ["recalibrate", mk(), "--current", current_file(
            tmp, '{"eth": {"ltv": 0.8, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05}, '
                 '"eth": {"ltv": 0.7, "liquidation_threshold": 0.75, "liquidation_bonus": 0.06}}', "current.json")],
        ERR, ["current.json", "'eth'", "twice"], True),
    "scheduler-not-an-address": (lambda mk, ed, tmp, dd: ["sensitivity", mk(), "--scheduler", "not a url"],
                                 ERR, ["--scheduler 'not a url'", "tcp://host:8786"], True),
    "storage-postgres-unreachable": (
        lambda mk, ed, tmp, dd: ["run", mk({**SEARCH, "search": {**SEARCH["search"],
                                                         "storage": "postgresql://riskopt:pw@127.0.0.1:1/none"}})],
        # no driver here, or a driver and nothing listening on port 1: either way the URL, password hidden
        ERR, [r"\[search\] storage", r"postgresql://riskopt:\*\*\*@127\.0\.0\.1:1/none"], True),
    "storage-sqlite-missing-folder": (
        lambda mk, ed, tmp, dd: ["run", mk({**SEARCH, "search": {**SEARCH["search"],
                                                         "storage": f"sqlite:///{tmp}/missing/study.db"}})],
        ERR, [r"\[search\] storage", "sqlite:///.*/missing/study.db", "does not exist"], True),
    "out-dir-taken": (lambda mk, ed, tmp, dd: ["run", mk(), "--out", taken(tmp)],
                      ERR, ["taken", "already exists"], True),
    "seed-not-an-int": (lambda mk, ed, tmp, dd: ["run", mk(), "--seed", "1.5"],
                        USAGE, ["--seed", "'1.5'"], True),
    "unknown-option": (lambda mk, ed, tmp, dd: ["run", mk(), "--bogus"], USAGE, ["--bogus"], True),
    "unknown-command": (lambda mk, ed, tmp, dd: ["frobnicate"], USAGE, ["'frobnicate'"], True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_error(case, capsys, make_config, edited_data, tmp_path, data_dir):
    build, code, needles, upfront = CASES[case]
    out_dir = tmp_path / "out"
    argv = [str(a) for a in build(make_config, edited_data, tmp_path, data_dir)]
    if argv[0] != "frobnicate":
        argv += ([] if "--out" in argv else ["--out", str(out_dir)]) + (
            [] if "--data-dir" in argv else ["--data-dir", str(data_dir)])
    if code == USAGE:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        rc = exc.value.code
    else:
        rc = main(argv)
    _, err = capsys.readouterr()
    assert rc == code, err
    assert "Traceback" not in err
    lines = err.splitlines()
    errors = [ln for ln in lines if not ln.startswith(LINE_PREFIX)]
    assert len(errors) == 1, err
    assert re.match(r"riskopt( \w+)?: error: ", errors[0]), err
    for n in needles:
        assert re.search(n, errors[0]), f"{n!r} not in {errors[0]!r}"
    stages = [ln for ln in lines if ln.startswith(LINE_PREFIX)]
    if upfront:
        assert not stages, f"a stage started before the error: {stages}"
    else:  # found while the prices load, before any model is fitted
        assert all("loading prices" in ln for ln in stages), stages
    assert not out_dir.exists()
    assert not list(tmp_path.glob(".out.*")), "a temporary directory was left behind"


def test_usage_and_target_not_met_codes_differ():
    assert USAGE == 2 and TARGET_NOT_MET == 3 and len({ERR, USAGE, TARGET_NOT_MET, TERMINATED}) == 4


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for code in ("0", "1", "2", "3", "130", "143"):
        assert re.search(rf"^\s+{code}\s+\S", out, flags=re.M), out
    assert re.search(r"^\s+2\s+usage error", out, flags=re.M) and re.search(r"^\s+3\s+risk target", out, flags=re.M)


def test_sigterm_while_writing_leaves_nothing(capsys, make_config, tmp_path, data_dir, monkeypatch):
    """A real SIGTERM sent to this process between two report files: exit 143, no directory left."""
    from optimizer.report import writer

    real = writer._write_one
    calls = []

    def write_then_signal(root, name, content):
        calls.append(name)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(root, name, content)

    monkeypatch.setattr(writer, "_write_one", write_then_signal)
    out_dir = tmp_path / "r"
    before = signal.getsignal(signal.SIGTERM)
    rc = main(["run", str(make_config()), "--data-dir", str(data_dir), "--out", str(out_dir)])
    err = capsys.readouterr().err
    assert rc == TERMINATED, err
    assert len(calls) == 2  # the signal stopped the writer after its second file
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert not out_dir.exists()
    assert not list(tmp_path.glob(".r.*")), "a temporary directory was left behind"
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is restored after the command


def test_insolvent_accounts_are_a_finding(capsys, make_config, tmp_path, data_dir):
    """An account whose collateral is already below its debt: the run goes on, the report names it."""
    book = book_file(tmp_path, "account,asset,collateral_usd,debt_usd\n"
                               "a1,eth,1000000,0\na1,usdc,0,500000\na2,eth,100000,0\na2,usdc,0,300000\n")
    out_dir = tmp_path / "r"
    rc = main(["run", str(make_config({"book": {"kind": "csv", "path": str(book)}})), "--data-dir", str(data_dir),
               "--out", str(out_dir)])
    assert rc in (0, TARGET_NOT_MET), capsys.readouterr().err
    import json

    found = [f for f in json.loads((out_dir / "params.json").read_text())["data_findings"]
             if f["kind"] == "insolvent_accounts"]
    assert len(found) == 1 and "1 account(s)" in found[0]["detail"] and "'a2'" in found[0]["detail"]
    assert "$200,000 of their $300,000 debt" in found[0]["detail"]
    assert "insolvent_accounts" in (out_dir / "report.md").read_text()


def test_check_storage_names_the_url_of_a_failed_connection(tmp_path):
    """The connection path: a SQLite 'file' that is a folder cannot be opened."""
    from optimizer.optimize.search import check_storage

    check_storage(f"sqlite:///{tmp_path / 'ok.db'}")  # a file that does not exist yet is fine
    with pytest.raises(ValueError, match=r"is not a database URL"):
        check_storage("::")
    with pytest.raises(ValueError, match=r"unknown database kind 'nosuchdb'"):
        check_storage("nosuchdb://host/db")


def test_check_storage_names_an_unreachable_server(monkeypatch):
    """The server path with a driver present (none is installed here): the refused connection's
    first line, the URL with its password hidden."""
    import sqlalchemy
    from sqlalchemy.exc import OperationalError

    from optimizer.optimize.search import check_storage

    seen = {}

    class Refused:
        def connect(self):
            raise OperationalError("connect", {}, Exception("connection refused\nIs the server running?"))

        def dispose(self):
            seen["disposed"] = True

    def engine(url, **kw):
        seen["connect_args"] = kw.get("connect_args")
        return Refused()

    monkeypatch.setattr(sqlalchemy, "create_engine", engine)
    with pytest.raises(ValueError, match=r"^cannot connect to postgresql://u:\*\*\*@db\.example:5432/s: "
                                         r"connection refused$"):
        check_storage("postgresql://u:secret@db.example:5432/s")
    assert seen == {"connect_args": {"connect_timeout": 10}, "disposed": True}
