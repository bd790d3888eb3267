"""Elasticsearch machine learning for the text model, through the client's typed `es.ml` and `es.license` APIs.

One job per module:
- `errors`: MLUnavailable, and what an Elasticsearch error body says whatever its shape;
- `messages`: the sentences a user can act on, for each way ML can fail;
- `model_id`: the rules a trained model id must follow;
- `licence`: is ML there, and does the licence allow deploying a model;
- `models`: trained model configs (read, delete);
- `deployment`: deployment state, start, wait until started;
- `infer`: `_infer` documents out, vectors in;
- `trace`: eland's TorchScript trace of the text model (no cluster needed);
- `upload`: check, trace, import, start, wait.

Parsing is done by pure functions on the documented response bodies (tested offline); the functions that
take `es` are the I/O edge and turn `ApiError`s into MLUnavailable with one of the messages.
"""
