"""papershelf: a local-first related-papers companion."""

__version__ = "0.1.0"
