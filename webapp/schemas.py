"""The API's response models: every answer is serialised through its model (`serialise`), and the OpenAPI
document is generated from them (webapp/openapi.py), so the description cannot drift from what is served.
The request models are the core's contract (es_search/search/contract.py) and webapp/write_schemas.py.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from es_search.fields import FieldSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Strict):
    status: int
    code: str = Field(description="A short machine-readable reason, e.g. bad_request, too_large, not_found.")
    message: str = Field(description="What went wrong and what to do, for a person.")


class ErrorBody(_Strict):
    error: ErrorDetail


class Links(BaseModel):
    model_config = ConfigDict(extra="allow")
    thumbnail: str | None = None
    page: str
    similar: str
    api_similar: str
    document: str
    original: str | None = None


class QueryPartBody(_Strict):
    kind: Literal["text", "image", "vector"]
    value: str = Field(description="The text, the image id, or a vector token (an uploaded image's vector).")
    weight: float = Field(description="Signed: negative parts pull the query away from themselves.")


class ExplainedPart(QueryPartBody):
    cosine: float | None = Field(description="The hit's cosine similarity to this part alone.")


class SignalPart(_Strict):
    signal: str = Field(description="The ranking signal, in the form `boost=` takes.")
    value: object = Field(description="The document's value of the field (null when it has none).")
    factor: float = Field(description="What this signal multiplies the score by (1: no effect).")


class BoostExplained(_Strict):
    relevance: float = Field(description="The relevance boosted: (1 + cosine) / 2, or the fused score in hybrid "
                                         "mode.")
    score: float = Field(description="relevance × every factor: what orders the good matches.")
    signals: list[SignalPart]


class Explain(_Strict):
    parts: list[ExplainedPart]
    vector_rank: int | None = Field(description="1-based place in the vector (kNN) ranking.")
    keyword_rank: int | None = Field(None, description="Hybrid mode: 1-based place in the keyword ranking, "
                                                       "null when the keywords did not find it.")
    matched: dict[str, list[str]] | None = Field(None, description="Hybrid mode: fragments of the fields the "
                                                                   "keywords matched, by field; HTML-escaped, "
                                                                   "matches in <em>.")
    boost: BoostExplained | None = Field(None, description="A good match under ranking signals: each signal's "
                                                           "part of its score.")


class Cutoff(_Strict):
    good_matches: int = Field(description="How many of the best results are good matches; they come first.")
    similarity: float | None = Field(description="The lowest cosine among the good matches.")
    no_good_match: bool
    spread: float | None = Field(description="Best minus median cosine of the results the rule looked at.")


class Hit(_Strict):
    id: str
    rank: int = Field(description="1-based position in the whole ranking.")
    score: float | None = Field(description="What ranks: the cosine similarity in semantic mode, the reciprocal "
                                            "rank fusion score in hybrid mode, null when browsing.")
    similarity: float | None = Field(description="Cosine similarity to the query vector, when known.")
    good_match: bool | None = Field(description="Above this query's cutoff (see `cutoff`); null when browsing.")
    image: dict = Field(description="The indexed document without its vector.")
    links: Links
    explain: Explain | None = Field(None, description="Why the hit is here, with explain=true.")
    snippet: str | None = Field(None, description="Hybrid and text modes: the best fragment where the keywords "
                                                  "matched (the text inside the image first), HTML-escaped, the "
                                                  "matched words in <em>.")
    boosted_score: float | None = Field(None, description="A good match under ranking signals: its score "
                                                          "(relevance × the signals' factors), which orders them.")


class UnderstoodPiece(_Strict):
    text: str = Field(description="The words of q, as typed (give them to `as_text` to read them as words).")
    kind: Literal["date", "value"]
    param: str = Field(description="The filter they set.")
    value: str | None = Field(None, description="kind value: the field's value.")
    from_: date | None = Field(None, alias="from", description="kind date: the first day (null: open).")
    to: date | None = Field(None, description="kind date: the last day (null: open).")


class QueryEcho(_Strict):
    kind: Literal["text", "image", "similar", "vector", "compound", "browse"]
    mode: Literal["semantic", "hybrid", "text", "browse"]
    text: str | None
    similar: str | None
    vector: str | None = Field(description="For image searches: a token that pages the same search via "
                                           "GET /api/search?vec= without a new upload.")
    words: str | None = Field(None, description="Words matched in the keyword fields only: as given, or for an "
                                                 "image search the text read in its image (page on with words= "
                                                 "and the vector token).")
    parts: list[QueryPartBody] = Field(description="Every part of the query, the main one first.")
    sort: str = Field(description="relevance, boosted, date, size, or a registry field (descending with a leading "
                                  "-).")
    min_similarity: float | None
    filters: dict = Field(description="The filters given, by parameter: a list of values, or {from, to} (those "
                                      "understood in q are in `understood`).")
    understood: list[UnderstoodPiece] = Field(description="Pieces of q read as filters: a date, a value of an "
                                                          "understood field. Empty with literal=true.")


class FacetEntry(_Strict):
    value: str
    count: int
    selected: bool


class Appearance(_Strict):
    start: float = Field(description="Seconds from the video's start of the first matching frame of this range.")
    end: float = Field(description="Seconds of its last matching frame.")
    best_id: str = Field(description="The best-matching frame of the range (an image id).")
    best_time: float = Field(description="Its time in the video, in seconds.")
    frames: int = Field(description="Matching frames in the range.")


class VideoGroup(_Strict):
    video_id: str | None = Field(description="The video (null: a photo, not a video frame).")
    best: str = Field(description="The group's best hit (its id; that hit is the page's hit for the group).")
    frames: int = Field(description="Matching hits of the group among those ranked.")
    appearances: list[Appearance] = Field(description="Time ranges where matches occur, the best first.")


class SearchResultBody(_Strict):
    query: QueryEcho
    page: int
    size: int
    has_next: bool
    max_page: int
    took_ms: float
    timings_ms: dict[str, float]
    hits: list[Hit]
    total: int | None = Field(None, description="Only when browsing: a vector search ranks every image.")
    cutoff: Cutoff | None = Field(None, description="Where the good matches end (not when browsing).")
    no_good_match: bool | None = Field(None, description="True when nothing stands out as a good match.")
    facets: dict[str, list[FacetEntry]] | None = None
    matching: int | None = Field(None, description="Images passing every filter, with facets=true.")
    next: str | None = Field(None, description="The next page's address, when there is one.")
    notice: str | None = Field(None, description="Why the page is empty though the search was right: a page past "
                                                 "the deepest one ranked, or parts that cancel each other out.")
    groups: list[VideoGroup] | None = Field(None, description="With group=video: the page's videos (and photos), "
                                                              "one per hit, in the hits' order.")


class ImageDocumentBody(_Strict):
    id: str
    image: dict
    links: Links


class SeriesBody(_Strict):
    uid: str | None = Field(description="Series Instance UID; null for images that name no series.")
    series_number: int | None
    series_description: str | None
    modality: str | None
    body_part: str | None
    images: list[ImageDocumentBody] = Field(description="In Instance Number order.")


class StudyBody(_Strict):
    uid: str = Field(description="Study Instance UID.")
    study_description: str | None
    study_date: date | None
    institution: str | None
    department: str | None
    patient_key: str | None = Field(description="The patient's keyed pseudonym, when the ingest had a key.")
    modalities: list[str]
    total: int = Field(description="Images in the study.")
    shown: int = Field(description="Images listed here: all of them, up to the result window (1000 by default).")
    series: list[SeriesBody] = Field(description="In Series Number order.")


class FacetsBody(_Strict):
    facets: dict[str, list[FacetEntry]]
    matching: int


class HealthBody(_Strict):
    ok: bool = Field(description="Whether searching can work: Elasticsearch answers and the index exists.")
    status: Literal["green", "yellow", "red", "unavailable", "no_index"] = Field(
        description="The cluster's health, or why there is none to tell.")
    details: dict | None = Field(None, description=(
        "Only for a request with an API key, or everyone where IMGSEARCH_HEALTH_DETAILS is true: the index "
        "alias and its documents, the cluster's name, version and addresses, the models' names and whether "
        "they are loaded. Never a path on the server."))


def python_type(spec: FieldSpec) -> type:
    return {"date": date, "integer": int, "long": int, "float": float, "double": float,
            "boolean": bool}.get(spec.type, str)


def serialise(model: type[BaseModel], data: dict) -> dict:
    """An answer through its response model: what is sent is what the OpenAPI document describes."""
    return model.model_validate(data).model_dump(mode="json", by_alias=True, exclude_unset=True)


class DuplicateMember(BaseModel):
    id: str
    representative: bool
    similarity: float | None = Field(description="Cosine similarity of its vector to the representative's.")
    paths: list[str] = Field(default_factory=list)
    width: int | None = None
    height: int | None = None
    byte_size: int | None = None
    taken_at: str | None = None
    file_modified_at: str | None = None
    thumbnail: str | None = None


class DuplicateGroup(_Strict):
    id: str = Field(description="The group's id: its representative's id.")
    size: int
    members: list[DuplicateMember]


class DuplicatesBody(_Strict):
    page: int
    size: int
    total: int = Field(description="Groups in all.")
    has_next: bool
    groups: list[DuplicateGroup]


class QueryFace(_Strict):
    box: list[float] = Field(description="[x, y, width, height] relative to the query image.")
    score: float = Field(description="The face detector's score.")
    quality: Literal["ok", "small", "blurred"] = Field(description="ok: searched; small or blurred: too little to "
                                                                   "compare, so not searched.")


class FaceHit(_Strict):
    id: str
    rank: int = Field(description="1-based position among the images with a matching face.")
    distance: float = Field(description="Euclidean distance between the best-matching face and the query face "
                                        "(0: the same descriptor; below `threshold`: one person).")
    box: list[float] = Field(description="The matching face in this image: [x, y, width, height], relative.")
    person: str | None = Field(description="The person that face belongs to, once grouped.")
    query_face: int = Field(description="Which face of the query it matched (0-based, as `query_faces` lists).")
    image: dict = Field(description="The indexed document without vectors.")
    links: Links


class FaceSearchBody(_Strict):
    threshold: float = Field(description="Faces farther than this distance are not matches (and not listed).")
    query_faces: list[QueryFace]
    page: int
    size: int
    has_next: bool
    hits: list[FaceHit]
    groups: list[VideoGroup] | None = Field(None, description="With group=video: the page's videos (and photos), "
                                                              "one per hit, in the hits' order.")


class PersonBody(_Strict):
    id: str
    name: str | None
    images: int = Field(description="Images showing this person.")
    cover_image: str | None = Field(description="An image of the person, for a thumbnail.")
    cover_box: list[float] | None = Field(description="Their face in `cover_image`: [x, y, width, height], relative.")


class PeopleBody(_Strict):
    page: int
    size: int
    total: int = Field(description="People in all.")
    people: list[PersonBody]


class PersonRemovedBody(_Strict):
    id: str
    images: int = Field(description="Images whose faces of this person were removed.")


# --------------------------------------------------------------------------- watchlists


class WatchlistPromptAnswer(_Strict):
    text: str
    threshold: float


class WatchlistAnswer(_Strict):
    name: str
    policy: str
    similarity: float
    phash_distance: int
    description: str = ""
    prompts: list[WatchlistPromptAnswer] = Field(default_factory=list)
    created_at: str | None = None
    references: int = Field(0, description="How many reference images the list holds.")


class WatchlistsBody(_Strict):
    watchlists: list[WatchlistAnswer]


class ReferenceFailure(_Strict):
    image: str
    reason: str
    message: str


class ReferencesAddedBody(_Strict):
    watchlist: str
    added: int
    failed: int
    failures: list[ReferenceFailure] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list, description="The sha256 of each reference image added.")


class WatchlistRemovedBody(_Strict):
    watchlist: str
    removed: int = Field(description="Reference images taken away.")


class WatchlistMatchAnswer(_Strict):
    list: str
    policy: str
    similarity: float
    reference: str | None = None
    reference_name: str | None = None
    reference_thumbnail: str | None = None
    distance: int | None = None
    prompt: str | None = None


class ReviewItem(_Strict):
    id: str
    watchlist_status: str
    watchlists: list[str] = Field(default_factory=list)
    title: str | None = None
    thumbnail: str | None = None
    indexed_at: str | None = None
    matches: list[WatchlistMatchAnswer] = Field(default_factory=list)


class ReviewBody(_Strict):
    total: int
    page: int
    size: int
    items: list[ReviewItem]


class ReleasedBody(_Strict):
    id: str
    watchlist_status: str
