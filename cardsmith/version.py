"""The package version, in the one place the CLI, SARIF and packaging read it."""

__version__ = "0.1.0"
