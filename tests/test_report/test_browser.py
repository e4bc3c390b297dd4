"""Each HTML report type opened in a real browser (headless Chromium, Debian's package).

The page must load with no console error or page error, and show its plots (decoded images)
and tables. At 1280 px nothing scrolls sideways: neither the page nor any table container
(``div.tbl``); a table too wide for the text becomes cards. A screenshot of the first screen of
each report is saved under the test's temporary folder (``screens/<kind>.png``) for a person to
look at. `make test` installs Chromium where it is missing; in CI a missing browser fails.
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
    assert main(["backtest", str(cfg), "--out", str(tmp / "bt")]) in (0, 2, 3)
    current = data_dir.parent / "reference" / "aave_v3_ethereum_params.csv"
    assert main(["recalibrate", str(cfg), "--current", str(current), "--out", str(tmp / "recal")]) in (0, 3)
    return {
        "run": tmp / "run" / "report.html",
        "recalibrate": tmp / "recal" / "proposal.html",
        "sensitivity": tmp / "sens" / "sensitivity.html",
        "backtest": tmp / "bt" / "backtest.html",
    }


#: Reading width the layout must fit (a laptop screen), and the first screen the screenshot keeps.
VIEWPORT = {"width": 1280, "height": 800}

#: What the page says about its width, its tables and its images (run in the page).
MEASURE = """() => {
    const root = document.scrollingElement || document.documentElement;
    return {
        images: Array.from(document.images).map(i => ({id: (i.closest('figure') || {}).id || '',
                                                      ok: i.complete && i.naturalWidth > 0,
                                                      natural: i.naturalWidth, shown: i.clientWidth})),
        tables: document.querySelectorAll('table').length,
        bare: Array.from(document.querySelectorAll('table')).filter(t => !t.closest('div.tbl')).map(t => t.id),
        boxes: Array.from(document.querySelectorAll('div.tbl')).map(d => ({
            id: (d.querySelector('table') || {}).id || '', sw: d.scrollWidth, cw: d.clientWidth,
            cards: d.querySelector('table.cards') !== null})),
        page: {sw: root.scrollWidth, cw: root.clientWidth},
        figures: Array.from(document.querySelectorAll('figure')).map(f => f.id),
        hover: Object.fromEntries(Array.from(document.querySelectorAll('figure')).map(
            f => [f.id, f.querySelectorAll('map area[title]').length])),
        title: document.title,
    };
}"""


def _open(path: Path, screenshot: Path | None = None, action=None) -> dict:
    """Load ``path`` at :data:`VIEWPORT`; optionally act on the page, then measure and screenshot it."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        if action is not None:
            action(page)
        info = page.evaluate(MEASURE)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))  # the first screen only, as a reader opens it
        browser.close()
    info["errors"] = errors
    return info


def _assert_fits(info: dict) -> None:
    assert info["page"]["sw"] <= info["page"]["cw"], f"the page scrolls sideways: {info['page']}"
    assert info["bare"] == [], f"tables outside a div.tbl container: {info['bare']}"
    wide = [b for b in info["boxes"] if b["sw"] > b["cw"]]
    assert wide == [], f"table containers wider than the page: {wide}"


@pytest.mark.parametrize(
    ("kind", "figures"),
    [
        ("run", {"fig-prices", "fig-correlation", "fig-bad-debt", "fig-params", "fig-fund", "fig-frontier"}),
        ("recalibrate", set()),
        ("sensitivity", {"fig-tornado-eth", "fig-heatmap-vol_multiplier-comonotone_share"}),
        ("backtest", set()),
    ],
)
def test_report_renders_in_chromium(reports, kind, figures):
    shot = reports[kind].parents[1] / "screens" / f"{kind}.png"
    info = _open(reports[kind], screenshot=shot)
    assert info["errors"] == [], info["errors"]
    assert info["tables"] >= 1
    # every figure is there; each is a decoded image, or a sentence where there is nothing to draw
    assert figures <= set(info["figures"]), figures - set(info["figures"])
    assert all(i["ok"] for i in info["images"]), [i for i in info["images"] if not i["ok"]]
    assert len(info["images"]) >= max(len(figures) - 1, 1 if kind not in ("backtest", "recalibrate") else 0)
    _assert_fits(info)
    # charts are drawn at the text width: shown at their own size, not scaled down (labels stay legible)
    shrunk = [i for i in info["images"] if i["shown"] < i["natural"]]
    assert shrunk == [], shrunk
    assert shot.stat().st_size > 10_000  # a rendered first screen, kept for a person to look at
    if kind == "run":  # hover values: bars of the parameter chart, points of the fund curve, months of prices
        assert info["hover"]["fig-params"] >= 4 and info["hover"]["fig-prices"] >= 12, info["hover"]


# A synthetic page (no pipeline): the true layout is known by construction.
def _synthetic_page(tmp: Path) -> Path:
    from optimizer.report._jinja import environment, read_template_file
    from optimizer.report.section import text_table

    wide = text_table("tbl-wide", [f"Quite a long column header {j}" for j in range(16)],
                      [[f"ASSET{i}"] + [f"{i * 1000 + j:,} USD" for j in range(15)] for i in range(5)],
                      [False] + [True] * 15)
    narrow = text_table("tbl-narrow", ["Asset", "Fund"], [["a", "$1.2M"], ["b", "$300k"], ["c", "$2.0B"],
                                                          ["d", "-$5k"]], [False, True])
    src = ('{% from "_macros.html.j2" import table, script %}<!DOCTYPE html><html><head><style>{{ css | safe }}'
           '</style></head><body>{{ table(w) }}{{ table(n) }}{{ script() }}</body></html>')
    html = environment().from_string(src).render(w=wide, n=narrow, css=read_template_file("style.css"))
    path = tmp / "synthetic.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_wide_table_becomes_cards_and_narrow_one_sorts(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (make test installs it)")
    page_file = _synthetic_page(tmp_path)
    order: list[list[str]] = []

    def click_twice(page):
        for _ in range(2):
            page.click("#tbl-narrow thead th:nth-child(2)")
            order.append(page.eval_on_selector_all("#tbl-narrow tbody th", "els => els.map(e => e.textContent)"))

    info = _open(page_file, action=click_twice)
    assert info["errors"] == [], info["errors"]
    _assert_fits(info)
    cards = {b["id"]: b["cards"] for b in info["boxes"]}
    assert cards == {"tbl-wide": True, "tbl-narrow": False}
    # "$300k" < "$1.2M" < "$2.0B" by value, not as text; the second click reverses
    assert order == [["d", "b", "a", "c"], ["c", "a", "b", "d"]]
