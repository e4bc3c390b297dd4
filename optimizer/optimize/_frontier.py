"""Pareto frontier of (capital efficiency, tail risk) points and risk-appetite selection.

Pure functions on plain mappings: no optuna, no state. A *point* is any mapping with a
capital-efficiency value (to maximise) and a tail measure (to minimise), e.g. the dicts of
``FrontierSearch.trials_`` or ``FrontierSearch.frontier_``.

* :func:`dominates` and :func:`pareto_front` find the non-dominated points (one sort and one
  sweep, O(n log n)).
* :func:`mark_appetites` labels, for each risk appetite and its budget on the tail measure, the
  most capital-efficient frontier point within the budget.
* :func:`choose` returns the point of one appetite with a plain-English explanation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_TAIL_METRIC",
    "EFFICIENCY_METRIC",
    "choose",
    "dominates",
    "mark_appetites",
    "pareto_front",
]

#: Metric maximised by the search: USD of borrowing power the parameters allow.
EFFICIENCY_METRIC = "capital_efficiency_usd"
#: Default tail measure minimised by the search.
DEFAULT_TAIL_METRIC = "bad_debt_cvar_usd"

_LABELS = {
    "capital_efficiency_usd": "capital efficiency",
    "bad_debt_cvar_usd": "bad-debt CVaR",
    "bad_debt_var_usd": "bad-debt VaR",
    "expected_bad_debt_usd": "expected bad debt",
    "prob_bad_debt_exceeds_fund": "probability that bad debt exceeds the insurance fund",
}


def _value(point: Mapping[str, Any], key: str) -> float:
    try:
        v = point[key]
    except KeyError:
        raise KeyError(f"point has no {key!r} value; keys: {sorted(point)}") from None
    if v is None:
        return math.nan
    return float(v)


def dominates(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    maximize_key: str = EFFICIENCY_METRIC,
    minimize_key: str = DEFAULT_TAIL_METRIC,
) -> bool:
    """Tell whether point ``a`` Pareto-dominates point ``b``.

    ``a`` dominates ``b`` when it is at least as good on both objectives (``maximize_key`` not
    lower, ``minimize_key`` not higher) and strictly better on at least one. A point with a NaN
    objective neither dominates nor is dominated.

    Parameters
    ----------
    a, b : mapping
        Points holding both keys.
    maximize_key, minimize_key : str
        Objective keys.

    Returns
    -------
    bool
    """
    ea, ta = _value(a, maximize_key), _value(a, minimize_key)
    eb, tb = _value(b, maximize_key), _value(b, minimize_key)
    if any(math.isnan(x) for x in (ea, ta, eb, tb)):
        return False
    return ea >= eb and ta <= tb and (ea > eb or ta < tb)


def pareto_front(
    points: Sequence[Mapping[str, Any]],
    maximize_key: str = EFFICIENCY_METRIC,
    minimize_key: str = DEFAULT_TAIL_METRIC,
) -> list[Mapping[str, Any]]:
    """Non-dominated points, sorted by ``maximize_key`` ascending (and so by ``minimize_key``).

    One sort by (``maximize_key`` descending, ``minimize_key`` ascending, input position) and one
    sweep that keeps a point when its ``minimize_key`` is strictly below every value seen so far:
    O(n log n). Of several points with identical objective values only the first in input order is
    kept (so the earliest trial represents a duplicate). Points with a NaN objective are left out.

    Parameters
    ----------
    points : sequence of mapping
        Candidate points; each holds ``maximize_key`` and ``minimize_key``.
    maximize_key, minimize_key : str
        Objective keys.

    Returns
    -------
    list of mapping
        The input objects themselves (not copies) on the frontier; along the list both objectives
        increase strictly.
    """
    keyed = []
    for pos, p in enumerate(points):
        e, t = _value(p, maximize_key), _value(p, minimize_key)
        if math.isnan(e) or math.isnan(t):
            continue
        keyed.append((-e, t, pos))
    keyed.sort()
    kept: list[Mapping[str, Any]] = []
    best = math.inf
    for _neg_e, t, pos in keyed:
        if t < best:
            kept.append(points[pos])
            best = t
    kept.reverse()
    return kept


def _check_budgets(budgets: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(budgets, Mapping) or not budgets:
        raise ValueError(
            f"`budgets` must be a non-empty mapping of appetite name to budget, got {budgets!r}"
        )
    out: dict[str, float] = {}
    for name, b in budgets.items():
        try:
            v = float(b)
        except (TypeError, ValueError):
            raise ValueError(f"`budgets[{name!r}]` must be a number, got {b!r}") from None
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"`budgets[{name!r}]` must be finite and >= 0, got {b!r}")
        out[str(name)] = v
    return out


def _tail_key(frontier: Sequence[Mapping[str, Any]], tail_key: str | None) -> str:
    if tail_key is not None:
        return tail_key
    for p in frontier:
        if "tail_metric" in p:
            return str(p["tail_metric"])
    return DEFAULT_TAIL_METRIC


def mark_appetites(
    frontier: Sequence[Mapping[str, Any]],
    budgets: Mapping[str, float],
    *,
    tail_key: str | None = None,
) -> list[dict[str, Any]]:
    """Label the frontier point each risk appetite would choose.

    An appetite with budget ``B`` picks the point with the highest capital efficiency whose tail
    measure is ``<= B`` (ties: the lower tail, then the earlier point); when no point qualifies it
    picks nothing.

    Parameters
    ----------
    frontier : sequence of mapping
        Frontier points (any order), e.g. ``FrontierSearch.frontier_``.
    budgets : mapping of str to float
        Appetite name (``"conservative"``, ``"moderate"``, ``"aggressive"``) to its budget on the
        tail measure, in the measure's unit (USD for ``bad_debt_cvar_usd``, a probability for
        ``prob_bad_debt_exceeds_fund``).
    tail_key : str, optional
        Tail measure to compare with the budgets; default the points' ``tail_metric`` entry, else
        ``"bad_debt_cvar_usd"``.

    Returns
    -------
    list of dict
        Copies of the points, in the input order, each with

        * ``appetite``: the name of the tightest-budget appetite that chose it, or None;
        * ``appetites``: every appetite that chose it, tightest budget first;
        * ``appetite_budgets``: all ``budgets`` (so :func:`choose` can explain a choice).
    """
    b = _check_budgets(budgets)
    key = _tail_key(frontier, tail_key)
    out = [dict(p) for p in frontier]
    for p in out:
        p["appetite"] = None
        p["appetites"] = []
        p["appetite_budgets"] = dict(b)
    for name, budget in sorted(b.items(), key=lambda kv: kv[1]):
        best: int | None = None
        for i, p in enumerate(out):
            e, t = _value(p, EFFICIENCY_METRIC), _value(p, key)
            if math.isnan(e) or math.isnan(t) or t > budget:
                continue
            if best is None:
                best = i
                continue
            eb, tb = _value(out[best], EFFICIENCY_METRIC), _value(out[best], key)
            if e > eb or (e == eb and t < tb):
                best = i
        if best is not None:
            out[best]["appetites"].append(name)
            if out[best]["appetite"] is None:
                out[best]["appetite"] = name
    return out


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def _fmt(key: str, v: float) -> str:
    if key.startswith("prob_"):
        return f"{v:.2%}"
    if key.endswith("_usd"):
        a = abs(v)
        if a >= 1e9:
            return f"${v / 1e9:,.2f}B"
        if a >= 1e6:
            return f"${v / 1e6:,.2f}M"
        if a >= 1e3:
            return f"${v / 1e3:,.1f}k"
        return f"${v:,.0f}"
    return f"{v:.4g}"


def _fmt_delta(key: str, v: float) -> str:
    if key.startswith("prob_"):
        return f"{v * 100:.2f} percentage points"
    return _fmt(key, v)


def choose(
    frontier: Sequence[Mapping[str, Any]],
    appetite: str,
    *,
    budgets: Mapping[str, float] | None = None,
    tail_key: str | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """Pick the frontier point of one risk appetite and explain the choice in one paragraph.

    Parameters
    ----------
    frontier : sequence of mapping
        Frontier points marked by :func:`mark_appetites`, or unmarked points with ``budgets``.
    appetite : str
        Appetite name, a key of the budgets.
    budgets : mapping of str to float, optional
        When given, the frontier is (re-)marked with them first.
    tail_key : str, optional
        Tail measure; default the points' ``tail_metric`` entry, else ``"bad_debt_cvar_usd"``.

    Returns
    -------
    point : dict or None
        The chosen point (a copy), None when no frontier point meets the budget.
    explanation : str
        Why this point: its capital efficiency and tail, its share of the budget, and what the
        next, more efficient frontier point would cost.
    """
    key = _tail_key(frontier, tail_key)
    if budgets is not None:
        marked = mark_appetites(frontier, budgets, tail_key=key)
    else:
        if not frontier:
            raise ValueError("`frontier` is empty; there is nothing to choose from")
        if not all("appetites" in p and "appetite_budgets" in p for p in frontier):
            raise ValueError(
                "`frontier` is not marked; call mark_appetites(frontier, budgets) or pass `budgets`"
            )
        marked = [dict(p) for p in frontier]
    if not marked:
        raise ValueError("`frontier` is empty; there is nothing to choose from")
    all_budgets = marked[0]["appetite_budgets"]
    if appetite not in all_budgets:
        raise ValueError(f"unknown appetite {appetite!r}; the budgets name {sorted(all_budgets)}")
    budget = float(all_budgets[appetite])
    tail_label, eff_label = _label(key), _label(EFFICIENCY_METRIC)
    ordered = sorted(
        (p for p in marked if not math.isnan(_value(p, EFFICIENCY_METRIC))),
        key=lambda p: (_value(p, EFFICIENCY_METRIC), _value(p, key)),
    )
    chosen = next((p for p in ordered if appetite in p["appetites"]), None)
    head = f"The {appetite} appetite allows a {tail_label} of at most {_fmt(key, budget)}."
    if chosen is None:
        safest = min(ordered, key=lambda p: (_value(p, key), -_value(p, EFFICIENCY_METRIC)))
        text = (
            f"{head} No point on the frontier meets it: the least risky point found"
            f"{_trial_ref(safest)} has a {tail_label} of {_fmt(key, _value(safest, key))}. "
            "Lower the floors of the searched ranges (liquidation thresholds, bonuses), search "
            "longer, or raise the budget."
        )
        return None, text
    e, t = _value(chosen, EFFICIENCY_METRIC), _value(chosen, key)
    share = f" ({t / budget:.0%} of the budget)" if budget > 0 else ""
    text = (
        f"{head} Of the {len(ordered)} points on the frontier, the most capital-efficient one "
        f"within that budget{_trial_ref(chosen)} reaches a {eff_label} of "
        f"{_fmt(EFFICIENCY_METRIC, e)} "
        f"with a {tail_label} of {_fmt(key, t)}{share}."
    )
    later = [p for p in ordered if _value(p, EFFICIENCY_METRIC) > e]
    if later:
        nxt = later[0]
        ne, nt = _value(nxt, EFFICIENCY_METRIC), _value(nxt, key)
        gain = f"{_fmt(EFFICIENCY_METRIC, ne - e)}"
        if e > 0:
            gain += f" (+{(ne - e) / e:.1%})"
        text += (
            f" The next point on the frontier{_trial_ref(nxt)} would add {gain} of {eff_label} "
            f"but raise the {tail_label} by {_fmt_delta(key, nt - t)} to {_fmt(key, nt)}, "
            f"{_fmt_delta(key, nt - budget)} over the budget."
        )
    else:
        text += (
            " It is the most capital-efficient point the search found, so the budget does not bind:"
            " more efficiency would need wider search ranges, not a larger budget."
        )
    return dict(chosen), text


def _trial_ref(p: Mapping[str, Any]) -> str:
    n = p.get("trial")
    return f" (trial {n})" if n is not None else ""
