"""Faces: finding them in images (engine.py) and grouping them into people (people.py, store.py); searching
by a face is es_search/search/face_search.py. Off unless IMGSEARCH_FACES=on: faces are biometric data
(docs/faces.md)."""
