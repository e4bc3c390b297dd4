"""Bad input and failures, tried on purpose through ``optimizer.cli.main``.

Each fatal problem must end with exit code 1 and one message naming the culprit (file, asset,
date or key) and no traceback; non-fatal ones (a stale feed, a depeg) are flagged in the report
and the run succeeds. The price files are small edits of a copy of the real Binance file in
tmp_path (see conftest.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.pipeline.progress import LINE_PREFIX

PRICE_FILE = "binance_prices_daily.csv"


def row_of(rows: list[list[str]], date: str) -> int:
    return next(i for i, r in enumerate(rows) if r[0] == date)


def set_cell(rows, date: str, asset: str, value: str):
    rows[row_of(rows, date)][rows[0].index(asset)] = value
    return rows


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clean_error(rc: int, err: str, *needles: str) -> None:
    """Exit 1, one error message (it may list several problems on indented lines), no traceback.

    Progress lines of the stages that ran before the error ("riskopt: [  1.2 s] ...") are ignored.
    """
    assert rc == 1, err
    assert "Traceback" not in err
    err = "".join(ln for ln in err.splitlines(keepends=True) if not ln.startswith(LINE_PREFIX))
    assert err.startswith("riskopt: error: "), err
    assert err.count("riskopt: error: ") == 1, err
    for n in needles:
        assert re.search(n, err), f"{n!r} not in {err!r}"


def no_report(out_dir: Path) -> None:
    assert not out_dir.exists()
    assert not list(out_dir.parent.glob(f".{out_dir.name}.*")), "a temporary directory was left behind"


# ---------------------------------------------------------------------------------------------
# Price values and dates: `riskopt data check` and `riskopt run`
# ---------------------------------------------------------------------------------------------
BAD_VALUES = {
    "zero": "0",
    "negative": "-1875.5",
    "nan": "nan",
    "infinite": "inf",
}


@pytest.mark.parametrize("kind", list(BAD_VALUES))
def test_bad_price_value_is_fatal_and_named(kind, capsys, edited_data, make_config, tmp_path):
    ddir = edited_data(lambda rows: set_cell(rows, "2024-06-03", "eth", BAD_VALUES[kind]))
    rc, out, err = run_cli(capsys, "data", "check", ddir / PRICE_FILE)
    assert rc == 1
    errors = [ln for ln in out.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1
    assert PRICE_FILE in errors[0] and "'eth'" in errors[0] and "2024-06-03" in errors[0]
    out_dir = tmp_path / "report"
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", ddir, "--out", out_dir)
    assert_clean_error(rc, err, PRICE_FILE, "eth", "2024-06-03")
    no_report(out_dir)


def _duplicate(rows):
    i = row_of(rows, "2024-06-03")
    return rows[: i + 1] + [rows[i][:]] + rows[i + 1 :]


def _unsorted(rows):
    i = row_of(rows, "2024-06-03")
    rows[i], rows[i + 1] = rows[i + 1], rows[i]
    return rows


def _unparsable(rows):
    rows[row_of(rows, "2024-06-03")][0] = "2024-06-31"
    return rows


@pytest.mark.parametrize(
    ("edit", "needle"),
    [(_duplicate, "2024-06-03"), (_unsorted, "2024-06-0[34]"), (_unparsable, "2024-06-31")],
    ids=["duplicated", "unsorted", "unparsable"],
)
def test_bad_dates_are_fatal_and_named(edit, needle, capsys, edited_data, make_config, tmp_path):
    ddir = edited_data(edit)
    rc, out, _ = run_cli(capsys, "data", "check", ddir / PRICE_FILE)
    assert rc == 1
    assert any(ln.startswith("ERROR") and re.search(needle, ln) for ln in out.splitlines()), out
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", ddir, "--out", tmp_path / "r")
    assert_clean_error(rc, err, PRICE_FILE, needle)
    no_report(tmp_path / "r")


def test_empty_file(capsys, edited_data, make_config, tmp_path):
    ddir = edited_data(text="")
    rc, out, _ = run_cli(capsys, "data", "check", ddir / PRICE_FILE)
    assert rc == 1 and "empty" in out
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", ddir, "--out", tmp_path / "r")
    assert_clean_error(rc, err, PRICE_FILE, "empty")


def test_missing_file_named(capsys, make_config, tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", empty, "--out", tmp_path / "r")
    assert_clean_error(rc, err, PRICE_FILE)


def test_one_asset_file_and_config_work(capsys, edited_data, make_config, tmp_path):
    """A price file with a single asset column and a one-asset market: the run succeeds."""
    ddir = edited_data(lambda rows: [[r[0], r[rows[0].index("eth")]] for r in rows])
    rc, out, _ = run_cli(capsys, "data", "check", ddir / PRICE_FILE)
    assert rc == 0, out
    cfg = make_config(name="one")
    text = cfg.read_text(encoding="utf-8")
    # keep only [assets.eth]
    keep = re.sub(r"\n\[assets\.(wbtc|usdc|crv)\]\n(?:(?!\n\[).)*", "", text, flags=re.S)
    cfg.write_text(keep, encoding="utf-8")
    out_dir = tmp_path / "r"
    rc, out, err = run_cli(capsys, "run", cfg, "--data-dir", ddir, "--out", out_dir)
    assert rc == 0, err
    params = json.loads((out_dir / "params.json").read_text())
    assert list(params["assets"]) == ["eth"]


def test_asset_missing_from_file_is_named(capsys, edited_data, make_config, tmp_path):
    ddir = edited_data(lambda rows: [[r[0], r[rows[0].index("eth")]] for r in rows])
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", ddir, "--out", tmp_path / "r")
    assert_clean_error(rc, err, PRICE_FILE, "btc|usdc|crv")


def test_short_history_is_named(capsys, edited_data, make_config, tmp_path):
    """crv with only ~100 days of prices: the error names crv and the minimum."""

    def blank(rows):
        j = rows[0].index("crv")
        stop = row_of(rows, "2025-03-01")
        for r in rows[1:stop]:
            r[j] = ""
        return rows

    ddir = edited_data(blank)
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", ddir, "--out", tmp_path / "r")
    assert_clean_error(rc, err, "crv", "250")


def test_stale_feed_and_depeg_are_flagged_not_fatal(capsys, edited_data, make_config, tmp_path):
    def edit(rows):
        start = row_of(rows, "2025-01-10")
        j = rows[0].index("eth")
        for r in rows[start + 1 : start + 9]:  # eth frozen for 8 days
            r[j] = rows[start][j]
        for d in ("2025-02-03", "2025-02-04", "2025-02-05"):
            set_cell(rows, d, "usdc", "0.9412")
        return rows

    ddir = edited_data(edit)
    out_dir = tmp_path / "r"
    rc, out, err = run_cli(capsys, "run", make_config(), "--data-dir", ddir, "--out", out_dir)
    assert rc == 0, err
    findings = json.loads((out_dir / "params.json").read_text())["data_findings"]
    kinds = {(f["kind"], f["asset"]) for f in findings}
    assert ("stale", "eth") in kinds, findings
    assert ("depeg", "usdc") in kinds, findings
    depeg = [f for f in findings if f["kind"] == "depeg" and f["asset"] == "usdc" and "2025-02-03" in str(f["start"])]
    assert depeg, findings
    md = (out_dir / "report.md").read_text()
    section = md[md.index("### Data quality"):]  # in the appendix
    assert "stale" in section and "depeg" in section and "2025-02-03" in section


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        ({"scenarios": {"n_scenario": 100}}, ["n_scenario", "did you mean 'n_scenarios'"]),
        ({"optimiser": {"alpha": 0.99}}, ["optimiser"]),
        ({"anti_procyclicality": {"methd": "floor"}}, ["methd", "did you mean 'method'"]),
        ({"optimizer": {"alpha": 1.5}}, [r"\[optimizer\] alpha", "1.5", "< 1"]),
        ({"scenarios": {"horizon_days": -2}}, [r"\[scenarios\] horizon_days", "-2", ">= 1"]),
        ({"assets": {"eth": {"current": {"ltv": 0.8, "liquidation_threshold": 1.2, "liquidation_bonus": 0.05}}}},
         [r"\[assets\.eth\] current liquidation_threshold", "1.2", "< 1"]),
        ({"optimizer": {"lt_max": 1.05}}, [r"\[optimizer\] lt_max", "< 1"]),
        ({"backtest": {"estimators": ["ewma", "garhc"]}}, ["garhc", "did you mean 'garch'"]),
        ({"backtest": {"episodes": [["2022-05-12", "2022-05-09"]]}}, ["2022-05-09", "before"]),
        ({"anti_procyclicality": {"method": "flor"}}, ["method", "flor"]),
        ({"anti_procyclicality": {"stress_weight": 0.1}}, ["stress_weight", ">= 0.25"]),
    ],
    ids=["misspelt-key", "unknown-section", "misspelt-apc", "alpha-1.5", "negative-horizon", "lt-above-1",
         "lt-max-above-1", "unknown-estimator", "episode-reversed", "unknown-method", "stress-weight-low"],
)
def test_bad_config_is_named(overrides, needles, capsys, make_config, tmp_path, data_dir):
    rc, _, err = run_cli(capsys, "run", make_config(overrides), "--data-dir", data_dir, "--out", tmp_path / "r")
    assert_clean_error(rc, err, *needles)
    no_report(tmp_path / "r")


def test_unparsable_config(capsys, make_config, tmp_path, data_dir):
    cfg = make_config(raw="[run\nname = 'x'\n")
    rc, _, err = run_cli(capsys, "run", cfg, "--data-dir", data_dir)
    assert_clean_error(rc, err, "invalid TOML")


def test_book_referencing_asset_without_prices(capsys, make_config, tmp_path, data_dir):
    book = tmp_path / "book.csv"
    book.write_text(
        "account,asset,collateral_usd,debt_usd\n"
        "a1,eth,1000000,0\n"
        "a1,usdc,0,500000\n"
        "a2,doge,200000,0\n",
        encoding="utf-8",
    )
    cfg = make_config({"book": {"kind": "csv", "path": str(book)}})
    rc, _, err = run_cli(capsys, "run", cfg, "--data-dir", data_dir, "--out", tmp_path / "r")
    assert_clean_error(rc, err, "book.csv", "line 4", "'doge'", "no prices")
    no_report(tmp_path / "r")


# ---------------------------------------------------------------------------------------------
# Optimizer failures
# ---------------------------------------------------------------------------------------------
def test_infeasible_budget_exits_3_with_report_and_smallest_budget(capsys, make_config, tmp_path, data_dir):
    cfg = make_config({"optimizer": {"risk_budget_usd": 1.0, "lt_min": 0.85, "lt_max": 0.9,
                                     "asset_budget_share": 0.9}})
    out_dir = tmp_path / "r"
    rc, out, err = run_cli(capsys, "run", cfg, "--data-dir", data_dir, "--out", out_dir)
    assert rc == 3, err  # risk target not met
    assert "Traceback" not in err
    params = json.loads((out_dir / "params.json").read_text())
    assert params["status"] == "infeasible"
    smallest = params["metrics"]["min_feasible_budget_usd"]
    assert smallest > 1.0
    assert f"${smallest:,.0f}" in params["status_message"]
    assert "smallest feasible budget" in params["status_message"].lower()
    md = (out_dir / "report.md").read_text()
    assert "Risk target not met" in md and f"${smallest:,.0f}" in md
    assert "smallest feasible budget" in out.lower()


def test_failed_garch_fit_falls_back_and_is_recorded(capsys, make_config, tmp_path, data_dir, monkeypatch):
    from optimizer.estimators import _volatility

    def boom(*args, **kwargs):
        raise RuntimeError("simulated arch failure")

    monkeypatch.setattr(_volatility, "_fit_arch", boom)
    out_dir = tmp_path / "r"
    rc, _, err = run_cli(capsys, "run", make_config({"estimators": {"volatility": "garch"}}),
                         "--data-dir", data_dir, "--out", out_dir)
    assert rc in (0, 3), err
    assets = json.loads((out_dir / "params.json").read_text())["assets"]
    for a, entry in assets.items():
        assert entry["drivers"]["estimator"] == "ewma", a
        assert "simulated arch failure" in entry["drivers"]["fallback_reason"], a
    assert "simulated arch failure" in (out_dir / "report.md").read_text()


# ---------------------------------------------------------------------------------------------
# Interrupted runs leave nothing behind
# ---------------------------------------------------------------------------------------------
def test_ctrl_c_midway_leaves_no_report(capsys, make_config, tmp_path, data_dir, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("optimizer.optimize.evaluate_book", interrupt)
    out_dir = tmp_path / "r"
    rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", data_dir, "--out", out_dir)
    assert rc == 130
    assert "interrupted" in err and "Traceback" not in err
    no_report(out_dir)


def test_exception_midway_leaves_no_report(make_config, tmp_path, data_dir, monkeypatch):
    from optimizer.pipeline import run as run_mod

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(run_mod, "insurance_fund", crash)
    out_dir = tmp_path / "r"
    with pytest.raises(RuntimeError, match="disk on fire"):
        main(["run", str(make_config()), "--data-dir", str(data_dir), "--out", str(out_dir)])
    no_report(out_dir)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_interrupt_while_writing_leaves_no_report(exc, capsys, make_config, tmp_path, data_dir, monkeypatch):
    from optimizer.report import writer

    real = writer._write_one
    calls = []

    def flaky(root, name, content):
        calls.append(name)
        if len(calls) == 2:
            raise exc("stopped while writing")
        return real(root, name, content)

    monkeypatch.setattr(writer, "_write_one", flaky)
    out_dir = tmp_path / "r"
    if exc is KeyboardInterrupt:
        rc, _, err = run_cli(capsys, "run", make_config(), "--data-dir", data_dir, "--out", out_dir)
        assert rc == 130
    else:
        with pytest.raises(RuntimeError):
            main(["run", str(make_config()), "--data-dir", str(data_dir), "--out", str(out_dir)])
    assert len(calls) == 2
    no_report(out_dir)
