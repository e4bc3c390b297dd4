from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from optimizer.report import render_html
from optimizer.report.section import Figure, Section

from .conftest import FIGURE_IDS, build_report

TABLE_IDS = ("tbl-recommendations", "tbl-metrics", "tbl-fund", "tbl-fund-curve", "tbl-drivers",
             "tbl-references", "tbl-findings", "tbl-method", "tbl-repro")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    """Loose structure check: every non-void start tag is closed in order; ids are collected."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.figures: dict[str, list[str]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._fig: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "figure":
            self._fig = a.get("id")
            self.figures[self._fig] = []
        elif self._fig is not None:
            self.figures[self._fig].append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "figure":
            self._fig = None
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()


def _check(html: str) -> _Checker:
    p = _Checker()
    p.feed(html)
    p.close()
    assert not p.errors, p.errors[:5]
    assert p.stack == [], p.stack
    assert len(p.ids) == len(set(p.ids)), "duplicate ids"
    return p


@pytest.fixture(scope="module")
def parsed(html):
    return _check(html)


def test_structure_and_ids(html, parsed):
    assert html.startswith("<!DOCTYPE html>")
    for fid in FIGURE_IDS:
        assert fid in parsed.ids, fid
        assert "img" in parsed.figures[fid] and "figcaption" in parsed.figures[fid], fid
    for tid in TABLE_IDS:
        assert tid in parsed.ids, tid


def test_images_are_embedded_png(html, parsed):
    srcs = [a["src"] for tag, a in parsed.tags if tag == "img"]
    assert len(srcs) >= 6  # five standard figures + the frontier section's plot
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"Software" not in png and b"tIME" not in png


def test_self_contained(html, parsed):
    assert "http://" not in html and "https://" not in html
    assert not any(tag in ("link", "iframe") for tag, _ in parsed.tags)
    # one script, inlined (report.js: table reflow and sorting), never loaded from elsewhere
    scripts = [a for tag, a in parsed.tags if tag == "script"]
    assert len(scripts) == 1 and "src" not in scripts[0]
    assert "fetch(" not in html and "XMLHttpRequest" not in html
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            v = attrs.get(name)
            if v is not None:
                assert v.startswith(("data:", "#")), (tag, name, v[:40])
    assert "<style>" in html and "font-variant-numeric" in html  # style.css inlined


def test_same_content_as_markdown(html):
    for text in ("80.50% → 81.00% (+50 bps)", "73.00% → 70.00% (-300 bps)", "Cover-2",
                 "c0ffee" + "0" * 58, "da7a" + "1" * 60, "20240601", "riskopt run configs/synthetic.toml",
                 "Efficiency frontier", "GARCH did not converge"):
        assert text in html.replace("\u00a0", " "), text  # HTML cells glue a number to its unit


def test_escaping(no_figures):
    r = build_report(title="Risk <script>alert(1)</script> & co", status_message="a < b & c")
    html = render_html(r)
    assert html.count("<script>") == 1 and "alert(1)</script>" not in html  # only report.js's own tag
    assert "Risk &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    _check(html)


def test_byte_identical_across_renders(report, no_figures):
    assert render_html(report) == render_html(build_report())


def test_all_zero_bad_debt_says_so():
    r = build_report(bad_debt=np.zeros(5000), bad_debt_current=np.zeros(5000))
    html = render_html(r)
    p = _check(html)
    assert "img" not in p.figures["fig-bad-debt"]
    m = re.search(r'<figure id="fig-bad-debt">(.*?)</figure>', html, re.S)
    assert m and "No bad debt in any scenario" in m.group(1)
    assert "No bad debt in any scenario under the recommended parameters" in html


def test_one_asset_without_current_and_section_images():
    base = build_report()
    eth = dataclasses.replace(base.assets[0], current=None)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    one_px = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    r = dataclasses.replace(
        base, assets=[eth], metrics_current=None, bad_debt_current=None,
        prices=base.prices[["eth"]], volatility=base.volatility[["eth"]], correlation=np.ones((1, 1)),
        sections={"extra": Section("Extra", bullets=("one", "two"),
                                   figures=(Figure("fig-extra-svg", "inline", svg=svg),
                                            Figure("fig-extra-png", "png", image=one_px)))},
    )
    html = render_html(r)
    p = _check(html)
    for fid in FIGURE_IDS:
        assert "img" in p.figures[fid], fid
    assert "svg" in p.figures["fig-extra-svg"] and "img" in p.figures["fig-extra-png"]
    assert "no current parameters were given" in html


def test_empty_inputs_render():
    base = build_report()
    r = dataclasses.replace(
        base, prices=base.prices.iloc[:0], volatility=base.volatility.iloc[:0],
        correlation=np.empty((0, 0)), fund={}, bad_debt=np.array([]), bad_debt_current=None,
        data_findings=[], sections={}, config_text="",
    )
    html = render_html(r)
    p = _check(html)
    for fid in ("fig-prices", "fig-correlation", "fig-bad-debt", "fig-fund"):
        assert "img" not in p.figures[fid], fid
        assert "p" in p.figures[fid]
    assert "None: no gaps" in html


def test_status_classes(no_figures):
    html = render_html(build_report(status="infeasible", status_message="Smallest feasible budget: $7M."))
    assert 'class="status status-infeasible"' in html
    assert "Risk target not met" in html
