"""groundmcp: grounded retrieval over code and document corpora, served over MCP."""

__version__ = "0.1.0"
