"""thinkt: collect what AI coding assistants did, from many machines into one store."""

__version__ = "0.1.0"
