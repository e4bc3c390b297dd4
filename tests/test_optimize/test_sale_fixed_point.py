"""The threshold program solved at the sale its recommendation causes: the iteration itself.

Synthetic maps on purpose: the fixed point and the number of steps are known in closed form.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from optimizer.exceptions import ConvergenceWarning
from optimizer.optimize import SALE_TOLERANCE, solve_at_sale_fixed_point
from optimizer.protocol.sale import SaleSize


def _sale(q: float) -> SaleSize:
    return SaleSize(assets=("x",), usd=np.array([q]), collateral_usd=np.array([100.0]), rule="seized", share=1.0)


def _maps(gain: float):
    """slippage = sale / 100; the recommendation's 'LT' is 1 - slippage; the sale it causes is 50 + gain x (LT - 0.5) x 100."""
    build = lambda sale: SimpleNamespace(slippage=np.asarray(sale.usd) / 100.0, sale=sale)  # noqa: E731
    solve = lambda m: SimpleNamespace(recommended=1.0 - float(m.slippage[0]))  # noqa: E731
    resize = lambda lt: _sale(50.0 + gain * (lt - 0.5) * 100.0)  # noqa: E731
    return build, solve, resize


def test_a_contraction_converges_to_its_fixed_point():
    # s' = 0.5 + gain (0.5 - s): fixed point s = 0.5, the step shrinks by |gain| each re-solve
    fp = solve_at_sale_fixed_point(*_maps(-0.3), _sale(80.0))
    assert fp.converged and fp.params == "recommended"
    assert float(fp.sale.usd[0]) == pytest.approx(50.0, abs=100 * SALE_TOLERANCE)
    steps = np.array(fp.steps)
    np.testing.assert_allclose(steps[1:] / steps[:-1], 0.3)
    assert steps[-1] < SALE_TOLERANCE <= steps[-2] and fp.n_solves == len(steps) + 1


def test_the_current_parameters_solve_once():
    fp = solve_at_sale_fixed_point(*_maps(-0.3), _sale(80.0), params="current")
    assert fp.steps == () and fp.converged and float(fp.sale.usd[0]) == 80.0


def test_no_convergence_warns_and_keeps_the_last_solve():
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 3 re-solves"):
        fp = solve_at_sale_fixed_point(*_maps(1.0), _sale(80.0), max_iterations=3)  # 0.8, 0.2, 0.8, ... for ever
    assert not fp.converged and len(fp.steps) == 3
    with pytest.raises(ValueError, match=r"`params` must be 'recommended' or 'current'"):
        solve_at_sale_fixed_point(*_maps(-0.3), _sale(80.0), params="live")
