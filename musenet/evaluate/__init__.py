"""Measuring a model: held-out likelihood next to an n-gram baseline, music statistics of generated vs real pieces,
style recognisability, instrument/length adherence, validity and memorisation; a Markdown report with plots.

    corpus      the pieces of a built dataset's split, as (style, ids) and as decoded excerpts
    features    per-piece music statistics on the codec's events (numpy)
    overlap     overlapping area of two distributions on one shared grid (Yang & Lerch 2020)
    ngram       an interpolated (Witten-Bell) trigram over token ids: the likelihood baseline
    likelihood  a model's NLL per token / per note on held-out pieces
    music       generated vs real feature sets, per style
    classifier  a multinomial logistic regression on event statistics (the style judge)
    style       training the judge on real excerpts; its accuracy on real and generated pieces
    memorise    the longest run of notes a sample shares with any training piece
    samples     generating the pieces to judge; validity, instrument and length adherence
    plots, report (report.md), run (`evaluate(EvalConfig)`, metrics.json), cli (`musenet evaluate`)
"""
