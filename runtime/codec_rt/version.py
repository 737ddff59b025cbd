"""The package's version: one source, pyproject.toml's, as installed."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codec-rt")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
