"""Each HTML report type opened in a real browser (headless Chromium, Debian's package).

The page must load with no console error or page error, and show its plots (decoded images)
and tables. `make test` installs Chromium where it is missing; in CI a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from optimizer.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

SMALL = """
[scenarios]
n_scenarios = 3000
[simulation]
n_scenarios = 1000
[search]
enabled = true
n_trials = 6
n_scenarios = 200
n_accounts = 300
[book]
n_accounts = 500
[sensitivity]
n_scenarios = 2000
alpha = [0.99, 0.995]
vol_multiplier = [1.0, 1.5]
comonotone_share = [0.0, 0.5]
liquidity_multiplier = [1.0]
horizon_days = [2]
bonus_shift = [0.0]
delay_steps = [1]
volatility = ["ewma"]
window_days = [1095]
grids = [["vol_multiplier", "comonotone_share"]]
workers = 1
[backtest]
episodes = [["2024-08-05", "2024-08-05"]]
test_days = 100
estimators = ["ewma"]
"""


def _small_config(tmp: Path) -> Path:
    """The quick config with every stage shrunk (tables are replaced, not merged)."""
    import tomllib

    from optimizer.pipeline.config import dumps_toml

    base = tomllib.loads((ROOT / "configs" / "quick.toml").read_text())
    for section, table in tomllib.loads(SMALL).items():
        base[section] = {**base.get(section, {}), **table}
    path = tmp / "small.toml"
    path.write_text(dumps_toml(base))
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory, data_dir):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make test` installs Debian's chromium package")
        pytest.skip("chromium not installed (make test installs it)")
    tmp = tmp_path_factory.mktemp("browser")
    os.environ.setdefault("RISKOPT_DATA_DIR", str(data_dir))
    cfg = _small_config(tmp)
    assert main(["run", str(cfg), "--out", str(tmp / "run")]) == 0
    assert main(["sensitivity", str(cfg), "--out", str(tmp / "sens"), "--workers", "1"]) == 0
    assert main(["backtest", str(cfg), "--out", str(tmp / "bt")]) in (0, 2)
    return {
        "run": tmp / "run" / "report.html",
        "sensitivity": tmp / "sens" / "sensitivity.html",
        "backtest": tmp / "bt" / "backtest.html",
    }


def _open(path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        info = page.evaluate(
            """() => ({
                images: Array.from(document.images).map(i => ({id: (i.closest('figure') || {}).id || '',
                                                              ok: i.complete && i.naturalWidth > 0})),
                tables: document.querySelectorAll('table').length,
                figures: Array.from(document.querySelectorAll('figure')).map(f => f.id),
                title: document.title,
            })"""
        )
        browser.close()
    info["errors"] = errors
    return info


@pytest.mark.parametrize(
    ("kind", "figures"),
    [
        ("run", {"fig-prices", "fig-correlation", "fig-bad-debt", "fig-params", "fig-fund", "fig-frontier"}),
        ("sensitivity", {"fig-tornado-eth", "fig-heatmap-vol_multiplier-comonotone_share"}),
        ("backtest", set()),
    ],
)
def test_report_renders_in_chromium(reports, kind, figures):
    info = _open(reports[kind])
    assert info["errors"] == [], info["errors"]
    assert info["tables"] >= 1
    # every figure is there; each is a decoded image, or a sentence where there is nothing to draw
    assert figures <= set(info["figures"]), figures - set(info["figures"])
    assert all(i["ok"] for i in info["images"]), [i for i in info["images"] if not i["ok"]]
    assert len(info["images"]) >= max(len(figures) - 1, 1 if kind != "backtest" else 0)
