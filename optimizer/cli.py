"""The `riskopt` command: parse arguments, call the pipeline, print where the report is.

No business logic here. Exit codes: 0 ok, 1 error (input, configuration, solver), 2 risk target
not met (a report is still written and says so).
"""

from __future__ import annotations

import argparse
import contextlib
import warnings
import sys
import traceback
from pathlib import Path
from typing import Iterator, Sequence

from optimizer import __version__
from optimizer.exceptions import OptimizerError

OK, ERR, TARGET_NOT_MET = 0, 1, 2


def _add_config_args(p: argparse.ArgumentParser, out_name: str = "") -> None:
    """The arguments every command on a config takes: the file, ``--out`` (default directory
    ``reports/<config-name>[-<out_name>]-<UTC time>/``) and ``--data-dir``."""
    suffix = f"-{out_name}" if out_name else ""
    p.add_argument("config", help="TOML configuration file (see configs/)")
    p.add_argument("--out", metavar="DIR", help=f"output directory (default reports/<config-name>{suffix}-<UTC time>/)")
    p.add_argument("--data-dir", metavar="DIR", help="price data directory (default: config, then $RISKOPT_DATA_DIR)")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    _add_config_args(p)
    p.add_argument("--seed", type=int, help="override [run] seed")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="use only data up to and including this date")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskopt",
        description="Recommend haircuts, liquidation thresholds, bonuses and an insurance fund for a lending market.",
    )
    parser.add_argument("--version", action="version", version=f"riskopt {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="optimise parameters for a config and write a report")
    _add_run_args(p)
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
    return parser


def _apply_overrides(cfg, args):
    if getattr(args, "seed", None) is not None:
        cfg = cfg.with_overrides("run", seed=args.seed)
    if getattr(args, "as_of", None):
        cfg = cfg.with_overrides("run", as_of=args.as_of)
        from optimizer.pipeline.config import _check_date

        _check_date(args.as_of, "--as-of", "command line")
    return cfg


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


def cmd_run(args: argparse.Namespace) -> int:
    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir, write_run
    from optimizer.pipeline.progress import Progress
    from optimizer.pipeline.run import run

    cfg = _apply_overrides(load_config(args.config), args)
    out = Path(args.out) if args.out else default_out_dir(cfg)
    with _quiet_model_warnings():
        outcome = run(cfg, data_dir=_data_dir(args), progress=Progress(), command=_command_line())
    path = write_run(outcome, out, data_dir=_resolved_data_dir(args, cfg))
    r = outcome.report
    print(f"status: {r.status}")
    if outcome.exit_code != OK:
        print(r.status_message)
    print(f"insurance fund: ${r.insurance_fund_usd:,.0f}")
    print(path)
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
    from optimizer.pipeline.backtest import run_backtest, write_backtest
    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir
    from optimizer.pipeline.progress import Progress

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else default_out_dir(cfg, suffix="backtest")
    with _quiet_model_warnings():
        res = run_backtest(cfg, data_dir=_data_dir(args), progress=Progress(), command=_command_line())
    path = write_backtest(res, out)
    for e in res.episodes:
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
    from optimizer.pipeline.progress import Progress
    from optimizer.pipeline.recalibrate import recalibrate, summary_lines, write_recalibration

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else default_out_dir(cfg, suffix="recalibration")
    with _quiet_model_warnings():
        outcome = recalibrate(cfg, current_file=args.current, previous_dir=args.previous, data_dir=_data_dir(args),
                              progress=Progress(), start_date=args.start_date, command=_command_line())
    path = write_recalibration(outcome, out, data_dir=_resolved_data_dir(args, outcome.config))
    for line in summary_lines(outcome):
        print(line)
    print(path)
    return TARGET_NOT_MET if outcome.exit_code == 2 else OK


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import default_out_dir
    from optimizer.pipeline.progress import Progress
    from optimizer.pipeline.sensitivity import run_sensitivity, write_sensitivity

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else default_out_dir(cfg, suffix="sensitivity")
    with _quiet_model_warnings():
        res = run_sensitivity(cfg, data_dir=_data_dir(args), scheduler=args.scheduler, workers=args.workers,
                              progress=Progress(), command=_command_line())
    path = write_sensitivity(res, out)
    info = res.run_info
    print(f"{len(res.points)} points ({info['distinct_points']} distinct) on {info['workers']} workers "
          f"in {info['runtime_seconds']:.1f} s" + (f"; {res.n_errors} failed" if res.n_errors else ""))
    print(path)
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return ERR
    try:
        return int(args.func(args))
    except OptimizerError as err:
        if args.debug:
            traceback.print_exc()
        print(f"riskopt: error: {err}", file=sys.stderr)
        return ERR
    except OSError as err:
        # unwritable output directory, unreadable file: a user problem, not a bug
        if args.debug:
            traceback.print_exc()
        print(f"riskopt: error: {err}", file=sys.stderr)
        return ERR
    except KeyboardInterrupt:
        print("riskopt: interrupted; no report written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
