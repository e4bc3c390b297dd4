"""The headline of a run: the few facts `riskopt run` prints at the end (and ``--json`` emits).

Read from the :class:`RunReport` only, so the terminal, the JSON line and the report agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from optimizer.report._format import as_float as _num
from optimizer.report.model import RunReport

#: Parameters compared between current and recommended values.
_KEYS = ("ltv", "liquidation_threshold", "liquidation_bonus")
#: Changes smaller than this (a fraction) are rounding, not a recommendation.
_TOL = 1e-9


@dataclass(frozen=True)
class Headline:
    """Status, fund, bad debt and parameter changes of one run.

    Attributes
    ----------
    status : str
        ``"ok"`` or ``"infeasible"`` (risk target not met).
    status_message : str
    insurance_fund_usd : float
    alpha : float or None
        Confidence of the CVaR figures.
    bad_debt_cvar_usd, bad_debt_cvar_current_usd : float or None
        CVaR of bad debt under the recommended / current parameters (the report's model of record).
    capital_efficiency_usd, capital_efficiency_current_usd : float or None
        Borrowing power of the book under the recommended / current parameters.
    n_changed : int
        Parameters (LTV, LT, bonus over all assets with current values) that change.
    largest_change : dict or None
        ``asset``, ``parameter``, ``current``, ``recommended`` of the largest absolute change.
    n_compared : int
        Parameters compared (three per asset with current values): ``n_changed`` is out of these.
    fund_binding_term : str or None
        The term of the fund standard that sets the fund (params.json ``fund.binding_term``:
        ``expected_shortfall``, ``stress_loss`` or ``cover2``); None without the standard.
    report_dir : str or None
        Where the report was written.
    """

    status: str
    status_message: str
    insurance_fund_usd: float
    alpha: float | None
    bad_debt_cvar_usd: float | None
    bad_debt_cvar_current_usd: float | None
    capital_efficiency_usd: float | None
    capital_efficiency_current_usd: float | None
    n_changed: int
    largest_change: dict[str, Any] | None
    n_compared: int = 0
    fund_binding_term: str | None = None
    report_dir: str | None = None

    @classmethod
    def of(cls, report: RunReport, report_dir: str | None = None) -> Headline:
        changes = []
        n_compared = 0
        for a in report.assets:
            if a.current is None:
                continue
            n_compared += len(_KEYS)
            for k in _KEYS:
                cur, rec = float(a.current[k]), float(a.recommended[k])
                if abs(rec - cur) > _TOL:
                    changes.append((abs(rec - cur), a.asset, k, cur, rec))
        largest = None
        if changes:
            _, asset, key, cur, rec = max(changes, key=lambda c: c[0])
            largest = {"asset": asset, "parameter": key, "current": cur, "recommended": rec}
        m, mc = report.metrics, report.metrics_current or {}
        return cls(
            status=report.status, status_message=report.status_message,
            insurance_fund_usd=float(report.insurance_fund_usd), alpha=_num(m.get("alpha")),
            bad_debt_cvar_usd=_num(m.get("bad_debt_cvar_usd")),
            bad_debt_cvar_current_usd=_num(mc.get("bad_debt_cvar_usd")),
            capital_efficiency_usd=_num(m.get("capital_efficiency_usd")),
            capital_efficiency_current_usd=_num(mc.get("capital_efficiency_usd")),
            n_changed=len(changes), largest_change=largest, n_compared=n_compared,
            fund_binding_term=(report.fund or {}).get("binding_term"), report_dir=report_dir,
        )

    def lines(self) -> list[str]:
        """The headline as short lines for a terminal (the report directory is not among them)."""
        out = [f"status: {self.status}"]
        if self.status != "ok" and self.status_message:
            out.append(self.status_message)
        out.append(f"insurance fund: {_usd(self.insurance_fund_usd)}")
        if self.bad_debt_cvar_usd is not None:
            conf = f"{self.alpha:.1%} " if self.alpha is not None else ""
            cur = (f" (current parameters: {_usd(self.bad_debt_cvar_current_usd)})"
                   if self.bad_debt_cvar_current_usd is not None else "")
            out.append(f"{conf}CVaR of bad debt: {_usd(self.bad_debt_cvar_usd)}{cur}")
        if self.capital_efficiency_usd is not None:
            cur = (f" (current: {_usd(self.capital_efficiency_current_usd)})"
                   if self.capital_efficiency_current_usd is not None else "")
            out.append(f"capital efficiency: {_usd(self.capital_efficiency_usd)}{cur}")
        if self.largest_change is not None:
            c = self.largest_change
            out.append(f"parameters changed: {self.n_changed}, largest {c['asset']} {c['parameter']} "
                       f"{c['current']:.2%} -> {c['recommended']:.2%}")
        else:
            out.append(f"parameters changed: {self.n_changed}")
        return out

    def as_dict(self) -> dict[str, Any]:
        # rounded as params.json is, so `--json` agrees with it digit for digit (a fund of $104M has 11)
        from optimizer.report._format import canonicalize

        return canonicalize(asdict(self))


def _usd(v: float | None) -> str:
    return "n/a" if v is None else f"${v:,.0f}"
