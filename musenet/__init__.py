"""musenet: an open, local MuseNet."""

__version__ = "0.1.0"
