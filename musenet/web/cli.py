"""`musenet serve`: the web co-composer on http://127.0.0.1:8000 (flags -> ServeConfig -> uvicorn)."""

from __future__ import annotations

import argparse
import dataclasses

from .config import ServeConfig

HELP = "run the web co-composer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ServeConfig()
    parser.add_argument("--model", default=None, help="model folder or name (default: the shipped model)")
    parser.add_argument(
        "--host", default=d.host, help=f"interface to listen on (default {d.host}: this machine only)"
    )
    parser.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port})")
    parser.add_argument(
        "--queue-size",
        type=int,
        default=d.queue_size,
        help=f"requests waiting for the model before 503 (default {d.queue_size})",
    )
    parser.add_argument(
        "--job-timeout",
        type=float,
        default=d.job_timeout_s,
        help=f"seconds one request may run (default {d.job_timeout_s:g})",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=d.max_upload_bytes / 2**20,
        help="largest MIDI upload (default 2)",
    )
    parser.add_argument(
        "--max-store-mb",
        type=float,
        default=d.max_store_bytes / 2**20,
        help="size cap on the generated files (default 1024)",
    )
    parser.add_argument(
        "--sessions-per-client",
        type=int,
        default=d.sessions_per_client,
        help=f"sessions one address may hold (default {d.sessions_per_client}; behind a proxy, raise it)",
    )
    parser.add_argument("--soundfont", default=None, help="a General MIDI .sf2 for the audio")
    parser.add_argument(
        "--rerank",
        type=int,
        default=d.rerank,
        help=f"with a critic in the model folder: best of N samples per candidate (default {d.rerank}; 1 = off)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads for generation (default: torch's choice)"
    )


def config(args: argparse.Namespace) -> ServeConfig:
    try:
        return dataclasses.replace(
            ServeConfig(),
            host=args.host,
            port=args.port,
            queue_size=args.queue_size,
            job_timeout_s=args.job_timeout,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            max_store_bytes=int(args.max_store_mb * 2**20),
            sessions_per_client=args.sessions_per_client,
            soundfont=args.soundfont,
            rerank=args.rerank,
        )
    except ValueError as e:
        from ..errors import UserError

        raise UserError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    cfg = config(args)  # bad flags fail before the heavy imports
    import uvicorn

    from ..generate.composer import load
    from .app import create_app
    from .limits import header_timeout_protocol
    from .service import CoComposer

    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    composer = load(args.model)
    service = CoComposer(composer, cfg)
    print(f"musenet co-composer: model {composer.path}, files in {service.store.root}")
    print(f"open http://{cfg.host}:{cfg.port}/ (API docs at /docs); Ctrl-C stops it")
    try:
        # past 64 open connections uvicorn answers 503; idle keep-alive connections close after 5 s, and so do
        # connections whose headers take longer than header_timeout_s (uvicorn has no such limit of its own)
        uvicorn.run(
            create_app(service),
            host=cfg.host,
            port=cfg.port,
            log_level="warning",
            limit_concurrency=64,
            timeout_keep_alive=5,
            http=header_timeout_protocol(cfg.header_timeout_s),
        )
    finally:
        service.close()
    return 0
