"""Watchlists: known images and unwanted content, caught at the door.

A watchlist is a named set of reference images (and, optionally, text prompts for unwanted categories)
with a policy for what happens to an image that matches it:
- `flag`: indexed, with the list and the reference on the document (filterable: `watchlist=`);
- `hold`: indexed but hidden from every search until a reviewer releases it (es_search/search/visibility.py);
- `refuse`: not indexed; the ingest's report says why, the write API answers 422 `watchlist_match`.

Modules, in the order data flows:
- `lists.py`: what a watchlist is, and its rules (names, policies, thresholds); pure;
- `store.py`: the index of their own (`<alias>-watchlists`) holding the lists and their reference images,
  never searched by the gallery;
- `matching.py`: which reference hits and prompts are matches, and what they make of an image; pure;
- `screen.py`: the check every new image goes through, after encoding and before indexing (ingest's writer);
- `scan.py`: the same check over the images indexed already, resumable;
- `review.py`: the flagged and held images, and their release.
"""
