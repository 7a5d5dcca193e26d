"""`grpo4codegen serve` and `grpo4codegen bench server`."""

from __future__ import annotations

import argparse
import os

from ..errors import UserError

TOKEN_ENV = "GRPO4CODEGEN_SERVER_TOKEN"  # as in .app and .client (not imported: keeps the CLI light)


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ..rewards.config import given_reward_options, reward_config_from_args
    from .app import ServerSettings, serve
    from .models import LimitsModel

    config = reward_config_from_args(args)  # validates every reward option (flags and --config YAML)
    given = given_reward_options(args)  # the server keeps its own defaults for options not given
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: not a TCP port")
    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    if min(args.max_queue, args.max_jobs) < 1 or args.max_body_mb <= 0 or args.shutdown_grace < 0:
        raise UserError("--max-queue, --max-jobs and --max-body-mb must be positive")
    limits = {
        "time_s": given.get("time_limit_s"),
        "total_time_s": given.get("total_time_limit_s"),
        "memory_mb": given.get("memory_limit_mb"),
        "metrics": args.metrics.split(",") if args.metrics else None,
    }
    limits = {k: v for k, v in limits.items() if v is not None}
    try:
        LimitsModel.model_validate(limits)
    except ValidationError as e:
        raise UserError(f"limits: {e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}") from None
    if _token_missing(args) and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"grpo4codegen: warning: serving on {args.host} without a token: anyone there can run code")
    if config.require_isolation:  # refuse before serving, not at the first request
        from ..sandbox.executor import Executor

        with Executor(workers=1, require_isolation=True) as executor:
            executor.check_isolation()
    problems = None
    if args.dataset:
        from ..data.loader import load_problems

        problems = load_problems(args.dataset, split=args.split)  # fail here, with a clear message
    from ..sandbox.sizing import pool_size

    sandbox_workers = config.sandbox_workers or pool_size(share=args.workers)
    settings = ServerSettings(
        sandbox_workers=sandbox_workers,
        dataset=args.dataset,
        split=args.split,
        max_queue=args.max_queue,
        max_jobs=min(args.max_jobs, args.max_queue),
        max_body_bytes=int(args.max_body_mb * (1 << 20)),
        shutdown_grace_s=args.shutdown_grace,
        limits=limits,
        token=args.token or os.environ.get(TOKEN_ENV) or None,
        require_isolation=config.require_isolation,
    )
    serve(
        settings,
        host=args.host,
        port=args.port,
        processes=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        problems=problems if args.workers == 1 else None,
    )
    return 0


def _token_missing(args: argparse.Namespace) -> bool:
    return not (args.token or os.environ.get(TOKEN_ENV))


def _bench(args: argparse.Namespace) -> int:
    from ..data.commands import problems_from_args
    from .bench import run_server_benchmark

    if args.clients < 1 or args.batch < 1 or not 0 < args.duration <= 600:
        raise UserError("--clients and --batch must be at least 1, --duration in (0, 600] seconds")
    problems = [p for p in problems_from_args(args) if p.tests and p.reference_solution]
    if args.limit:
        problems = problems[: args.limit]
    if not problems:
        raise UserError(f"{args.dataset}: no problems with tests and a reference solution")
    return run_server_benchmark(
        problems,
        dataset=args.dataset,
        split=args.split,
        clients=args.clients,
        duration_s=args.duration,
        batch=args.batch,
        sandbox_workers=args.sandbox_workers,
        send_problems=args.send_problems,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the sandbox executor over HTTP (ExecEval-compatible + batch)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server processes, each with its own sandbox pool")
    p.add_argument("--token", default=None, help=f"bearer token for all but /health (default ${TOKEN_ENV})")
    p.add_argument("--dataset", default=None, help="preload problems so that jobs may send only a task_id")
    p.add_argument("--split", default="test", help="split name when --dataset is a hub name")
    p.add_argument("--max-queue", type=int, default=1024, help="jobs admitted before requests get 429")
    p.add_argument("--max-jobs", type=int, default=256, help="jobs in one batch request")
    p.add_argument("--max-body-mb", type=float, default=16.0, help="request body limit")
    p.add_argument("--shutdown-grace", type=float, default=30.0, help="seconds in-flight jobs get on SIGTERM")
    p.add_argument(
        "--metrics", default=None, help="default metrics, comma list of time,memory,steps,instructions"
    )
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access-log", action="store_true", help="log every request")
    from ..rewards.config import add_reward_arguments

    # the one reward configuration: --sandbox_workers (per server process; default cores/--workers),
    # --time_limit_s/--time-limit, --total_time_limit_s, --memory_limit_mb (the server's default
    # limits when given), --require_isolation, and the rest (accepted, validated, used by scorers)
    add_reward_arguments(p)
    p.set_defaults(handler=_serve)

    from ..cli import subcommand_group
    from ..data.commands import add_dataset_args

    p = subcommand_group(sub, "bench", "benchmarks").add_parser(
        "server", help="loopback load on a real server vs the embedded executor on the same jobs"
    )
    add_dataset_args(p)
    p.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    p.add_argument("--batch", type=int, default=4, help="jobs per request")
    p.add_argument("--sandbox-workers", type=int, default=None, help="for both sides (default one per core)")
    p.add_argument("--limit", type=int, default=None, help="first N problems only")
    p.add_argument(
        "--send-problems", action="store_true", help="send problems inline instead of preloaded task ids"
    )
    p.set_defaults(handler=_bench)
