"""The named random streams of a run.

A run draws from seven independent streams, one per stochastic stage. They are the children of the
run's root seed, ``numpy.random.SeedSequence(seed).spawn(7)``, in the order of the fields of
:class:`RunStreams`; that order is part of the reproducibility contract (a new stream is appended
at the end, never inserted), so every stage reads its stream by name and no stage's numbers
depend on how often, or in which order, another stage draws.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["RunStreams"]


@dataclass(frozen=True, eq=False)
class RunStreams:
    """One independent :class:`numpy.random.Generator` per stochastic stage of a run.

    Each generator belongs to one stage and is consumed by it. A workflow that repeats a stage
    with the run's numbers (a sensitivity point, a recalibration replaying the simulation paths)
    takes a fresh record with :meth:`from_seed`, which reproduces the run's streams exactly.

    Attributes
    ----------
    book : Generator
        The synthetic book (account sizes and health factors).
    scenarios : Generator
        The scenario paths of the scenario generator.
    validation : Generator
        The in-run validation: ES critical values of the VaR backtests and the
        anti-procyclicality draws.
    simulation : Generator
        The intraday paths of the dynamic market simulation.
    search : Generator
        The frontier search (its path refinement, account sample and sampler seed).
    imputation : Generator
        The scenario generator's fit: the resampled regression residuals of the residuals it
        imputes on an asset's missing days (``ScenarioGenerator.fit(rng=)``).
    pegs : Generator
        The depeg jumps of pegged assets (which scenarios, which pooled event, which day).
        Appended after ``imputation``, so the streams before it draw exactly what they drew
        before it existed.

    Examples
    --------
    >>> s = RunStreams.from_seed(7)
    >>> a = s.scenarios.random()
    >>> _ = RunStreams.from_seed(7).book.random(10)  # another stage drawing first ...
    >>> RunStreams.from_seed(7).scenarios.random() == a  # ... changes nothing here
    True
    """

    book: np.random.Generator
    scenarios: np.random.Generator
    validation: np.random.Generator
    simulation: np.random.Generator
    search: np.random.Generator
    imputation: np.random.Generator
    pegs: np.random.Generator

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, np.random.Generator):
                raise TypeError(
                    f"`{f.name}` must be a numpy.random.Generator, got {type(value).__name__}"
                )

    @classmethod
    def from_seed(cls, seed: int, *, book_seed: int | None = None) -> RunStreams:
        """The streams of a run with root seed ``seed``.

        Parameters
        ----------
        seed : int
            The run's ``[run] seed`` (>= 0).
        book_seed : int or None, default None
            ``[book] seed``: the ``book`` stream is then that of root seed ``book_seed`` (the
            book a run with that seed draws), the other streams still those of ``seed``. None:
            ``seed``.

        Returns
        -------
        RunStreams
            Fresh generators: ``np.random.default_rng(seed).spawn(7)`` in field order.

        Raises
        ------
        TypeError
            If ``seed`` is not an int.
        """
        for name, value in (("seed", seed), ("book_seed", seed if book_seed is None else book_seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"`{name}` must be an int, got {type(value).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        children = dict(zip(names, np.random.default_rng(int(seed)).spawn(len(names)), strict=True))
        if book_seed is not None and int(book_seed) != int(seed):
            children["book"] = np.random.default_rng(int(book_seed)).spawn(len(names))[names.index("book")]
        return cls(**children)
