"""Training data: sources (the music21 corpus, MIDI folders) -> labelled token shards -> training windows.

`build` (parallel, cached, reports its drops) writes the shards; `dataset.WindowDataset` reads them with
augmentation and knows nothing of MIDI or music21. See README.md in this folder for usage and measured figures.
"""
