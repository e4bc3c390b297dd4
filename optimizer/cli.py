"""The `riskopt` command: parse arguments, call the pipeline, print the headline and where the report is.

No business logic here. Exit codes (:data:`EXIT_CODES`): 0 ok, 1 error of input, configuration or
solver (one line on stderr), 2 usage error (bad arguments; argparse's and POSIX's convention),
3 risk target not met (a report is still written and says so), 130 interrupted (SIGINT), 143
terminated (SIGTERM or SIGHUP). An interrupted or terminated run leaves no report and no temporary
directory.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import warnings
import sys
import traceback
from pathlib import Path
import typing
from typing import Iterator, Sequence

from optimizer import __version__
from optimizer.exceptions import OptimizerError

OK, ERR, USAGE, TARGET_NOT_MET = 0, 1, 2, 3
INTERRUPTED, TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM (the shell's convention)

#: Exit code -> meaning, as `riskopt --help` and the README print them.
EXIT_CODES = {
    OK: "ok",
    ERR: "error of input, configuration or solver (one line naming the culprit; --debug for a traceback)",
    USAGE: "usage error: unknown command or option, a malformed argument",
    TARGET_NOT_MET: "risk target not met (the report is still written and says so)",
    INTERRUPTED: "interrupted (Ctrl-C): no report written",
    TERMINATED: "terminated (SIGTERM, SIGHUP): no report written",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``riskopt run: error: ... (see riskopt run --help)``, exit 2."""

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        self.exit(USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so the report writer removes its temporary directory."""


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` while a command runs (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signal.Signals(signum).name)

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), handler) for n in names}
    try:
        yield
    finally:
        for n, h in previous.items():
            signal.signal(getattr(signal, n), h)


def _add_config_args(p: argparse.ArgumentParser, out_name: str = "") -> None:
    """The arguments every command on a config takes: the file, ``--out`` (default directory
    ``reports/<config-name>[-<out_name>]-<UTC time>/``) and ``--data-dir``."""
    suffix = f"-{out_name}" if out_name else ""
    p.add_argument("config", help="TOML configuration file (see configs/)")
    p.add_argument("--out", metavar="DIR", help=f"output directory (default reports/<config-name>{suffix}-<UTC time>/)")
    p.add_argument("--data-dir", metavar="DIR", help="price data directory (default: config, then $RISKOPT_DATA_DIR)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress and no summary: print only the output directory (errors still go to stderr)")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    _add_config_args(p)
    p.add_argument("--seed", type=int, help="override [run] seed (an integer >= 0)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="use only data up to and including this date")


def _exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4d}{meaning}" for code, meaning in EXIT_CODES.items())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="riskopt",
        description="Recommend haircuts, liquidation thresholds, bonuses and an insurance fund for a lending market.",
        epilog=_exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"riskopt {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="optimise parameters for a config and write a report",
                       epilog=_exit_codes_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_args(p)
    p.add_argument("--json", action="store_true",
                   help="print the headline as one JSON object on stdout (no progress), for scripts and CI")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("data", help="check or fetch price data")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    c = dsub.add_parser("check", help="validate a wide price CSV and print every finding")
    c.add_argument("file", nargs="+")
    c.set_defaults(func=cmd_data_check)
    f = dsub.add_parser("fetch", help="download prices (or DEX quotes) from a public source into the CSV formats")
    f.add_argument("--source", required=True, choices=["binance", "coingecko", "coinmetrics", "paraswap"],
                   help="paraswap: DEX-aggregator quotes of each token sold into USDC at sizes $1k .. $200M, "
                        "written as a quotes file for [liquidity] quotes_file")
    f.add_argument("--assets", required=True,
                   help="comma-separated lower-case tickers, e.g. btc,eth,usdc (paraswap: token symbols, e.g. "
                        "WETH,WBTC,LINK)")
    f.add_argument("--out", required=True, metavar="DIR")
    f.add_argument("--start", metavar="YYYY-MM-DD")
    f.add_argument("--end", metavar="YYYY-MM-DD")
    f.set_defaults(func=cmd_data_fetch)

    p = sub.add_parser("backtest", help="VaR backtests over the full data and crash replays of the config's episodes")
    _add_config_args(p, "backtest")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("reproduce", help="re-run a recorded run and confirm a byte-identical params.json")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--data-dir", metavar="DIR", help="data directory (default: the one recorded in run.json)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("recalibrate", help="run, plan guardrailed updates and write a governance proposal")
    _add_config_args(p, "recalibration")
    p.add_argument("--current", metavar="FILE", help="live parameters: Aave/Compound reference CSV, JSON or TOML")
    p.add_argument("--previous", metavar="DIR", help="an earlier recalibration's directory: attribute against it")
    p.add_argument("--start-date", metavar="YYYY-MM-DD", help="date of the first update (default: the day after as_of)")
    p.set_defaults(func=cmd_recalibrate)

    p = sub.add_parser("sensitivity", help="sweep the assumptions on Dask: tornado charts and heatmaps")
    _add_config_args(p, "sensitivity")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes of the local cluster ([sensitivity] workers)")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("search-worker", help="run trials of a config's frontier search in a shared study "
                                             "(PostgreSQL): start one per core or machine")
    p.add_argument("config", help="TOML configuration file (the run's: same config, data and seed)")
    p.add_argument("--storage", metavar="URL", help="database URL of the study (default [search] storage)")
    p.add_argument("--worker", type=int, default=1, metavar="K",
                   help="this worker's number, >= 1: seeds its sampler apart from the others' (default 1)")
    p.add_argument("--data-dir", metavar="DIR", help="price data directory (default: config, then $RISKOPT_DATA_DIR)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress; only the summary line")
    p.set_defaults(func=cmd_search_worker)

    p = sub.add_parser("cache", help="the on-disk cache of backtests ($RISKOPT_CACHE_DIR, default ~/.cache/riskopt)")
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION")
    c = csub.add_parser("info", help="print the cache folder, its entries and their size")
    c.set_defaults(func=cmd_cache_info)
    c = csub.add_parser("clear", help="remove every entry of the cache")
    c.set_defaults(func=cmd_cache_clear)
    p.set_defaults(func=lambda args, _p=p: (_p.print_help(sys.stderr), USAGE)[1])
    return parser


def _apply_overrides(cfg, args):
    if getattr(args, "seed", None) is not None:
        cfg = cfg.with_overrides("run", seed=args.seed, source="--seed")
    if getattr(args, "as_of", None):
        cfg = cfg.with_overrides("run", as_of=args.as_of)
        from optimizer.pipeline.config import _check_date

        _check_date(args.as_of, "--as-of", "command line")
    return cfg


def _check_before_run(out: Path, cfg, args: argparse.Namespace) -> None:
    """Inputs that need no computation (book, storage: pipeline.preflight, light imports first) and
    a taken output directory are found before the run, not after it. run() checks the inputs again:
    cheap, and library callers get it too."""
    from optimizer.pipeline.preflight import check_inputs

    check_inputs(cfg, data_dir=_data_dir(args))
    from optimizer.report.writer import check_out_dir

    check_out_dir(out)


def _command_line() -> str:
    return " ".join(["riskopt", *sys.argv[1:]])


@contextlib.contextmanager
def _quiet_model_warnings() -> Iterator[None]:
    """Data flags and estimator fallbacks are recorded in the report; don't repeat them on stderr."""
    from optimizer.exceptions import ConvergenceWarning, DataQualityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _data_dir(args) -> str | None:
    return getattr(args, "data_dir", None) or None


def _progress(args: argparse.Namespace):
    from optimizer.pipeline.progress import Progress, Silent

    return Silent() if getattr(args, "quiet", False) or getattr(args, "json", False) else Progress()


def cmd_run(args: argparse.Namespace) -> int:
    import json

    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir

    cfg = _apply_overrides(load_config(args.config), args)  # before the heavy imports: a bad input fails at once
    out = Path(args.out) if args.out else default_out_dir(cfg)
    _check_before_run(out, cfg, args)
    from optimizer.pipeline.output import write_run
    from optimizer.pipeline.run import run
    from optimizer.report.headline import Headline

    with _quiet_model_warnings():
        outcome = run(cfg, data_dir=_data_dir(args), progress=_progress(args), command=_command_line())
    path = write_run(outcome, out, data_dir=_resolved_data_dir(args, cfg))
    headline = Headline.of(outcome.report, report_dir=str(path))
    if args.json:
        print(json.dumps(headline.as_dict(), sort_keys=True))
    elif args.quiet:
        print(path)
    else:
        print("\n".join([*headline.lines(), str(path)]))
    return OK if outcome.exit_code == 0 else TARGET_NOT_MET


def _resolved_data_dir(args, cfg) -> str | None:
    from optimizer.data import resolve_data_dir

    return str(resolve_data_dir(_data_dir(args) or cfg.run.data_dir).resolve())


def cmd_data_check(args: argparse.Namespace) -> int:
    from optimizer.data import check_file

    worst = OK
    for name in args.file:
        findings = check_file(Path(name))
        fatal = [f for f in findings if f.fatal]
        for f in findings:
            print(("ERROR " if f.fatal else "flag  ") + f.message())
        print(f"{name}: {len(fatal)} fatal, {len(findings) - len(fatal)} flagged")
        if fatal:
            worst = ERR
    return worst


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from optimizer.data.fetch import fetch

    if args.source == "paraswap":
        from optimizer.data.fetch_quotes import fetch_quotes

        print(fetch_quotes([a.strip() for a in args.assets.split(",") if a.strip()], Path(args.out)))
        return OK
    assets = [a.strip().lower() for a in args.assets.split(",") if a.strip()]
    for p in fetch(args.source, assets, Path(args.out), start=args.start, end=args.end):
        print(p)
    return OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else default_out_dir(cfg, suffix="backtest")
    _check_before_run(out, cfg, args)
    from optimizer.pipeline.backtest import run_backtest, write_backtest

    with _quiet_model_warnings():
        res = run_backtest(cfg, data_dir=_data_dir(args), progress=_progress(args), command=_command_line())
    path = write_backtest(res, out)
    for e in ([] if args.quiet else res.episodes):
        d = e.data
        label = e.start if e.start == e.end else f"{e.start}..{e.end}"
        if not e.covered:
            print(f"{label}: not covered ({d['reason']})")
        elif "error" in d:
            print(f"{label}: recalibration failed ({d['error']})")
        else:
            verdict = "within the fund" if d["fund_covers"] else "EXCEEDS the fund"
            print(f"{label}: realised bad debt ${d['realised_bad_debt_usd']:,.0f} vs fund "
                  f"${d['insurance_fund_usd']:,.0f} ({verdict})")
    print(path)
    return OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    from optimizer.pipeline.reproduce import reproduce

    with _quiet_model_warnings():
        res = reproduce(args.run_dir, data_dir=args.data_dir)
    if res.identical:
        print(f"reproduced: params.json is byte-identical ({res.run_dir})")
        return OK
    print(res.diff)
    print(f"NOT reproduced: params.json differs ({res.run_dir})")
    return ERR


def cmd_recalibrate(args: argparse.Namespace) -> int:
    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else default_out_dir(cfg, suffix="recalibration")
    _check_before_run(out, cfg, args)
    from optimizer.pipeline.recalibrate import recalibrate, summary_lines, write_recalibration

    with _quiet_model_warnings():
        outcome = recalibrate(cfg, current_file=args.current, previous_dir=args.previous, data_dir=_data_dir(args),
                              progress=_progress(args), start_date=args.start_date, command=_command_line())
    path = write_recalibration(outcome, out, data_dir=_resolved_data_dir(args, outcome.config))
    for line in ([] if args.quiet else summary_lines(outcome)):
        print(line)
    print(path)
    return TARGET_NOT_MET if outcome.exit_code == 2 else OK


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else default_out_dir(cfg, suffix="sensitivity")
    _check_before_run(out, cfg, args)
    from optimizer.pipeline.sensitivity import run_sensitivity, write_sensitivity

    with _quiet_model_warnings():
        res = run_sensitivity(cfg, data_dir=_data_dir(args), scheduler=args.scheduler, workers=args.workers,
                              progress=_progress(args), command=_command_line())
    path = write_sensitivity(res, out)
    info = res.run_info
    if not args.quiet:
        print(f"{len(res.points)} points ({info['distinct_points']} distinct) on {info['workers']} workers "
              f"in {info['runtime_seconds']:.1f} s" + (f"; {res.n_errors} failed" if res.n_errors else ""))
    print(path)
    return OK


def cmd_search_worker(args: argparse.Namespace) -> int:
    from optimizer.pipeline.config import load_config

    cfg = load_config(args.config)
    if args.storage:
        cfg = cfg.with_overrides("search", storage=args.storage, source="--storage")
    from optimizer.pipeline.search_worker import search_worker

    with _quiet_model_warnings():
        st = search_worker(cfg, storage=args.storage, worker=args.worker, data_dir=_data_dir(args),
                           progress=_progress(args))
    print(f"worker {args.worker}: ran {st.n_trials_run} trials; study {st.study_name!r} holds "
          f"{st.n_trials_complete} complete of {st.n_trials}; frontier of {len(st.frontier)} points")
    return OK


def cmd_cache_info(args: argparse.Namespace) -> int:
    from optimizer._cache import info

    print(info().summary())
    return OK


def cmd_cache_clear(args: argparse.Namespace) -> int:
    from optimizer._cache import cache_dir, clear

    n = clear()
    print(f"removed {n} entr{'y' if n == 1 else 'ies'} from {cache_dir()}")
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return USAGE
    try:
        with _terminate_cleanly():
            return int(args.func(args))
    except (OptimizerError, OSError) as err:
        # OSError: an unwritable output directory, an unreadable file: a user problem, not a bug
        if args.debug:
            traceback.print_exc()
        print(f"riskopt: error: {err}", file=sys.stderr)
        return ERR
    except KeyboardInterrupt:
        print("riskopt: interrupted; no report written", file=sys.stderr)
        return INTERRUPTED
    except Terminated as sig:
        print(f"riskopt: terminated ({sig}); no report written", file=sys.stderr)
        return TERMINATED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
