"""papershelf: a local-first related-papers companion."""

__version__ = "0.2.0"
