"""Freshness: watch the folders a process serves and re-ingest them as their files change.

`Watcher` (watcher.py) knows which collections hold which roots and asks the Engine to re-ingest;
`RootWatch` (root.py) is one folder's thread of native file-system events, debounced into batches;
batch.py says which events are worth a re-ingest; git.py whether a git command is still writing.
"""

from .watcher import Watcher

__all__ = ["Watcher"]
