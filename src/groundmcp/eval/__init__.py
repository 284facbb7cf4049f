"""The evaluation harness: a BEIR-layout dataset through the real ingest and search, scored."""
