"""Second-stage reranking of first-stage hits: a small interface, one module per backend, a factory."""

from .base import Reranker
from .factory import DEFAULT_RERANKER, load_reranker

__all__ = ["DEFAULT_RERANKER", "Reranker", "load_reranker"]
