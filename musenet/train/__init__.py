"""Training: the loop (loop), its config and presets (config), data order (data), AdamW and schedule (optim),
the loss with mixup (objective), DDP helpers (ddp), log.csv / loss.png (log), and the `musenet train` command (cli).

`train` is imported lazily so that `musenet train --help` does not load torch.
"""
