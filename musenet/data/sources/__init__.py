"""The collections of the default data beyond the music21 corpus: WAD archives, MMA renders, labels, styles."""
