"""`torchrun --nproc_per_node=K -m musenet.train --data DIR --out RUN ...` (or `python -m musenet.train`)."""

from musenet.train.cli import main

raise SystemExit(main())
