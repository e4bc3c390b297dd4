"""The named random streams of a run (`optimizer._random.RunStreams`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer._random import RunStreams

NAMES = ("book", "scenarios", "validation", "simulation", "search", "imputation", "pegs")


def test_fields_are_the_documented_streams_in_order():
    assert tuple(f.name for f in dataclasses.fields(RunStreams)) == NAMES


def test_streams_are_the_children_of_the_root_seed_in_field_order():
    # the contract the recorded runs rely on: child i of default_rng(seed).spawn(7)
    children = np.random.default_rng(42).spawn(7)
    s = RunStreams.from_seed(42)
    for name, old in zip(NAMES, children, strict=True):
        np.testing.assert_array_equal(getattr(s, name).random(8), old.random(8))
    # the streams appended later (imputation, then pegs) left the first five as they were with spawn(5)
    s = RunStreams.from_seed(42)
    for name, old in zip(NAMES[:5], np.random.default_rng(42).spawn(5), strict=True):
        np.testing.assert_array_equal(getattr(s, name).random(8), old.random(8))


@pytest.mark.parametrize("first", NAMES)
def test_drawing_from_one_stream_does_not_change_another(first):
    reference = {n: getattr(RunStreams.from_seed(7), n).random(16) for n in NAMES}
    s = RunStreams.from_seed(7)
    getattr(s, first).random(10_000)  # one stage draws a lot, first
    getattr(s, first).spawn(3)
    for n in reversed(NAMES):  # the others in another order
        if n != first:
            np.testing.assert_array_equal(getattr(s, n).random(16), reference[n])


def test_streams_differ_and_depend_on_the_seed():
    s = RunStreams.from_seed(1)
    draws = [getattr(s, n).integers(2**63) for n in NAMES]
    assert len(set(draws)) == len(NAMES)
    assert RunStreams.from_seed(2).book.integers(2**63) != RunStreams.from_seed(1).book.integers(2**63)


def test_from_seed_is_fresh_each_time():
    a, b = RunStreams.from_seed(3), RunStreams.from_seed(3)
    a.scenarios.random(5)
    assert b.scenarios.random() == RunStreams.from_seed(3).scenarios.random()


def test_record_is_frozen_and_checked():
    s = RunStreams.from_seed(0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.book = np.random.default_rng(1)  # type: ignore[misc]
    with pytest.raises(TypeError, match="`search` must be a numpy.random.Generator"):
        RunStreams(*[np.random.default_rng(i) for i in range(4)], search=3,  # type: ignore[arg-type]
                   imputation=np.random.default_rng(5), pegs=np.random.default_rng(6))
    with pytest.raises(TypeError, match="`seed` must be an int, got float"):
        RunStreams.from_seed(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got bool"):
        RunStreams.from_seed(True)


def test_book_seed_fixes_the_book_stream_only():
    # [book] seed: the book a run of root seed 9 draws, whatever the run's own seed
    a, b = RunStreams.from_seed(1, book_seed=9), RunStreams.from_seed(2, book_seed=9)
    assert a.book.integers(2**63) == b.book.integers(2**63) == RunStreams.from_seed(9).book.integers(2**63)
    assert a.scenarios.integers(2**63) == RunStreams.from_seed(1).scenarios.integers(2**63)
    assert a.scenarios.integers(2**63) != b.scenarios.integers(2**63)
    assert RunStreams.from_seed(4, book_seed=4).book.random() == RunStreams.from_seed(4).book.random()
    with pytest.raises(TypeError, match="`book_seed` must be an int, got str"):
        RunStreams.from_seed(1, book_seed="9")  # type: ignore[arg-type]
