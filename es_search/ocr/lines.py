"""Pure: what the recogniser returned → the lines a document keeps, and the text a search reads.

PP-OCRv4's recogniser is trained mostly on Chinese and at times drops the space between two Latin words
("stationbalance"). Its per-character boxes cannot tell those gaps from the wide letters inside a word (tried:
"m" and "w" open gaps as wide as a space), so the text is kept as read, and the search side copes: `ocr_text`
has a trigram sub-field (mappings/fields.json) that finds "balance" inside "stationbalance".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Lines recognised with less confidence than this are dropped (rapidocr keeps 0.5 and up; 0.6 is a margin
# over that, not a measured threshold).
MIN_CONFIDENCE = 0.6
# The most lines and characters one image keeps: a dense page is still one document, not a book.
MAX_LINES = 200
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class OcrLine:
    """One line of text: what it says, where (x, y, width, height relative to the image), how sure."""

    text: str
    box: tuple[float, float, float, float]
    confidence: float

    def as_field(self) -> dict:
        return {"text": self.text, "box": [round(v, 4) for v in self.box], "confidence": round(self.confidence, 3)}


def relative_box(points: Sequence[Sequence[float]], width: int, height: int) -> tuple[float, float, float, float]:
    """The axis-aligned box around a quadrilateral, relative to the image (each value within 0..1)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(0.0, min(xs) / width), max(0.0, min(ys) / height)
    x1, y1 = min(1.0, max(xs) / width), min(1.0, max(ys) / height)
    return x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0)


def lines_from_result(result, width: int, height: int, min_confidence: float = MIN_CONFIDENCE) -> list[OcrLine]:
    """rapidocr's answer (each entry: box, text, score) for an image of width × height."""
    lines = []
    for entry in result or ():
        points, text, score = entry[0], entry[1], float(entry[2])
        text = " ".join(str(text).split())
        if not text or score < min_confidence:
            continue
        lines.append(OcrLine(text, relative_box(points, width, height), score))
        if len(lines) >= MAX_LINES:
            break
    return lines


def joined_text(lines: Sequence[OcrLine]) -> str:
    """The searchable text: the lines in reading order, one per line, cut at MAX_TEXT_CHARS."""
    return "\n".join(line.text for line in lines)[:MAX_TEXT_CHARS]


def document_fields(lines: Sequence[OcrLine]) -> dict:
    """The document fields of an image that was read: has_text, and when it holds text, ocr_text and ocr_lines."""
    if not lines:
        return {"has_text": False}
    return {"has_text": True, "ocr_text": joined_text(lines), "ocr_lines": [line.as_field() for line in lines]}


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def _pieces(word: str) -> list[str]:
    """A query word cut as the index cuts it: runs of Han characters as their bigrams (a lone character as
    itself), runs of Latin letters and digits whole."""
    pieces, run, kind = [], "", None
    for char in word + " ":
        this = "han" if _is_han(char) else "latin" if char.isalnum() else None
        if this != kind and run:
            pieces += [run[i:i + 2] for i in range(len(run) - 1)] or [run] if kind == "han" else [run]
            run = ""
        if this is not None:
            run += char
        kind = this
    return pieces


def line_matches(line: str, query: str) -> bool:
    """Whether a line holds a word of `query`, as the keyword leg matches them: the word itself, or every
    piece of it (Han bigrams, Latin and digit runs) somewhere in the line, case aside."""
    text = line.lower()
    for word in query.lower().split():
        pieces = _pieces(word)
        if word in text or (pieces and all(piece in text for piece in pieces)):
            return True
    return False
