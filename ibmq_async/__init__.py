"""ibmq_async."""

from ibmq_async._version import __version__

__all__ = ["__version__"]
