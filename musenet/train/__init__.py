"""Training: the loop (loop), its config and presets (config), data order (data), AdamW and schedule (optim),
the loss with mixup (objective), DDP helpers (ddp), log.csv / loss.png (log), the `musenet train` command (cli),
and a run on a GPU lent for minutes (burst: pack the data, train for a wall-clock budget, weights back).

`train` is imported lazily so that `musenet train --help` does not load torch.
"""
