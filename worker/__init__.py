"""tension-worker: diplomatic tension signals from a stream of news articles."""

__version__ = "0.6.0"
