"""Progress display: a live status line or bar on a terminal, one plain line per stage otherwise.

On a terminal (stderr a TTY, not CI) a stage shows a spinner and a counted stage a bar with rate
and ETA. In a log or a CI job each stage prints one line when it starts, ``riskopt: [  12.3 s]
simulating 20,000 scenarios``, so a stuck job shows where it is. ``Silent`` (``--quiet``,
``--json``) prints nothing. Stage timings are recorded either way.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Literal, TextIO

#: The prefix of a progress line in a log; error lines start "riskopt: error:".
LINE_PREFIX = "riskopt: ["


def interactive() -> bool:
    """True when stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """Stage timer. ``with progress.stage("fitting GARCH"):`` shows the stage.

    Parameters
    ----------
    enabled : bool, optional
        Show anything at all (default True; :class:`Silent` is ``enabled=False``).
    mode : {"bar", "lines"}, optional
        ``"bar"``: rich spinner and bars (default on a terminal); ``"lines"``: one line per stage
        (default otherwise).
    stream : text stream, optional
        Where lines go (default ``sys.stderr`` at the time of each line).

    Stage timings are kept in ``timings`` (seconds) for the run record either way.
    """

    def __init__(self, *, enabled: bool = True, mode: Literal["bar", "lines"] | None = None,
                 stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.mode = mode if mode is not None else ("bar" if interactive() else "lines")
        self.timings: dict[str, float] = {}
        self.started: list[str] = []
        self._stream = stream
        self._t0 = time.perf_counter()
        self._console = None
        if self.enabled and self.mode == "bar":
            from rich.console import Console

            self._console = Console(stderr=True)

    def _line(self, text: str) -> None:
        if self.enabled and self._console is None:
            stream = self._stream or sys.stderr
            print(f"{LINE_PREFIX}{time.perf_counter() - self._t0:6.1f} s] {text}", file=stream, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        self.started.append(name)
        if self._console is not None:
            with self._console.status(f"{name} ..."):
                yield
            dt = time.perf_counter() - t0
            self._console.print(f"[green]done[/green] {name} ({dt:.1f} s)")
        else:
            self._line(name)
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
        self.started.append(name)
        if self._console is None:
            self._line(f"{name} ({total} {unit})")
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
        else:
            self._line(text)


class Silent(Progress):
    def __init__(self) -> None:
        super().__init__(enabled=False, mode="lines")
