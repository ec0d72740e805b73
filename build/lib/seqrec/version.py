"""The package version, in a module of its own so that any stage can name it without importing the package's
facade (seqrec/__init__.py re-exports it)."""
__version__ = "0.1.0"
