"""The inner critic: a small model that tells real windows from the generator's own samples, used to rerank.

config (the critic's and its training's dataclasses), model (a tiny GPT trunk + pooled linear head), windows (real
windows cut from a built dataset), pool (generated windows on disk, keyed by the generator's weights), train (the
loop and ROC-AUC), store (critic.safetensors + critic.json in the model's folder, and `CRITICS`, the `ScorerStore` through which
generation finds it: reranking itself is `generate.scorer`), cli (`musenet train-critic`).
"""
