"""Elasticsearch side of the image search engine: configuration, client, local node, index, queries, encoders."""

__version__ = "0.1.0"
