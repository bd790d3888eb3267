"""The demo `make run` shows: sample photos and drawn scenes, ingested end to end, then served.

It sits above `ingest` and the core: it uses them, and nothing in them uses it.
"""
