"""The critics used to rerank: a small model that tells real windows from the generator's own samples (the inner
critic, kind `real`), or that tells which style a window is (kind `style`).

config (the critic's and its training's dataclasses), model (a tiny GPT trunk + pooled linear head), windows (real
windows cut from a built dataset: openings for the inner critic, style-masked stretches for the style critic), pool
(generated windows on disk, keyed by the generator's weights), train (the loops, ROC-AUC and style accuracy), store (critic.safetensors + critic.json in the model's folder, and `CRITICS`, the `ScorerStore` through which
generation finds it: reranking itself is `generate.scorer`), cli (`musenet train-critic`).
"""
