"""Progress display: a live status line on a terminal, silence in CI and logs."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator


def interactive() -> bool:
    """True when stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """Stage timer. ``with progress.stage("fitting GARCH"):`` shows a spinner on a terminal.

    Stage timings are kept in ``timings`` (seconds) for the run record either way.
    """

    def __init__(self, *, enabled: bool | None = None) -> None:
        self.enabled = interactive() if enabled is None else enabled
        self.timings: dict[str, float] = {}
        self._console = None
        if self.enabled:
            from rich.console import Console

            self._console = Console(stderr=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        if self._console is not None:
            with self._console.status(f"{name} ..."):
                yield
            dt = time.perf_counter() - t0
            self._console.print(f"[green]done[/green] {name} ({dt:.1f} s)")
        else:
            yield
            dt = time.perf_counter() - t0
        self.timings[name] = round(dt, 3)

    @contextmanager
    def counter(self, name: str, total: int, unit: str = "points") -> Iterator[Callable[[int], None]]:
        """Count finished items: ``with progress.counter("sweep", 40) as advance: ... advance(1)``.

        On a terminal shows items done, the rate and the estimated time left; the stage's time is
        recorded in ``timings`` either way.
        """
        t0 = time.perf_counter()
        if self._console is None:
            yield lambda n=1: None
            self.timings[name] = round(time.perf_counter() - t0, 3)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

        done = 0
        with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                 TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
                 console=self._console, transient=True) as bar:
            task = bar.add_task(name, total=total, rate="")

            def advance(n: int = 1) -> None:
                nonlocal done
                done += n
                elapsed = max(time.perf_counter() - t0, 1e-9)
                bar.update(task, advance=n, rate=f"{done / elapsed:.2f} {unit}/s")

            yield advance
        dt = time.perf_counter() - t0
        self._console.print(f"[green]done[/green] {name}: {done} {unit} ({dt:.1f} s)")
        self.timings[name] = round(dt, 3)

    def note(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text)


class Silent(Progress):
    def __init__(self) -> None:
        super().__init__(enabled=False)
