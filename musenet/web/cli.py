"""`musenet serve`: the web co-composer on http://127.0.0.1:8000 (flags -> ServeConfig -> uvicorn)."""

from __future__ import annotations

import argparse

from ..options import add_flags, field_docs, from_args
from .config import ServeConfig

# the flag names users know, where they differ from ServeConfig's fields
NAMES = {"job_timeout_s": "--job-timeout", "upload_timeout_s": "--upload-timeout"}
MB = {"max_upload_bytes": "--max-upload-mb", "max_store_bytes": "--max-store-mb"}  # byte fields, given in MB


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model folder or name (default: the shipped model)")
    add_flags(parser, ServeConfig, NAMES, skip=set(MB))
    docs = field_docs(ServeConfig)
    for name, flag in MB.items():
        default = getattr(ServeConfig, name) / 2**20
        parser.add_argument(
            flag, type=float, dest=name, default=argparse.SUPPRESS, metavar="MB",
            help=f"in MB: {docs[name].rstrip('.')} (default {default:g})",
        )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads for generation (default: torch's choice)"
    )


def config(args: argparse.Namespace) -> ServeConfig:
    mb = {name: int(getattr(args, name) * 2**20) for name in MB if hasattr(args, name)}
    return from_args(ServeConfig, args, **mb)


def run(args: argparse.Namespace) -> int:
    cfg = config(args)  # bad flags fail before the heavy imports
    import uvicorn

    from .. import load
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
