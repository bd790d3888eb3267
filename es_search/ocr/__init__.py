"""Text inside images: the engine (engine.py: a cheap gate and the reader) and what a document keeps of it
(lines.py: lines, boxes, the searchable text). Used by the ingest's OCR enricher and by image search, which
reads a query image's text too."""
