"""Videos written by the tests (PyAV, H.264), with what is in them known: scenes that start at given
seconds (a flat grey level each, with a bar moving across so frames within a scene differ a little) and a
face pasted into the frames between given seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Clip:
    seconds: float = 20.0
    fps: int = 10
    size: tuple[int, int] = (640, 360)
    scenes: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 40)])  # (start, grey level)
    faces: list[tuple[float, float]] = field(default_factory=list)  # [start, end) with the face pasted
    created: str | None = None  # the container's creation_time, e.g. "2026-06-01T09:00:00.000000Z"


def face_cut(photo: Path, centre: tuple[float, float], size: tuple[int, int] = (160, 192),
             width: float = 0.8) -> Image.Image:
    """A cut of a portrait around `centre` (relative), `width` of the photo wide, in the proportions of `size`
    (so the face is not stretched), scaled to `size`."""
    image = Image.open(photo).convert("RGB")
    w, h = image.size
    cut_w = w * width
    cut_h = cut_w * size[1] / size[0]
    x, y = centre[0] * w - cut_w / 2, centre[1] * h - cut_h / 2
    return image.crop((int(max(0, x)), int(max(0, y)), int(min(w, x + cut_w)), int(min(h, y + cut_h)))).resize(size)


def write_clip(path: Path, clip: Clip, face: Image.Image | None = None) -> Path:
    import av

    width, height = clip.size
    with av.open(str(path), "w") as out:
        if clip.created:
            out.metadata["creation_time"] = clip.created
        stream = out.add_stream("libx264", rate=clip.fps, options={"crf": "20", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        pasted = np.asarray(face) if face is not None else None
        for n in range(round(clip.seconds * clip.fps)):
            t = n / clip.fps
            level = [grey for start, grey in clip.scenes if start <= t + 1e-9][-1]
            frame = np.full((height, width, 3), level, np.uint8)
            x = (n * 7) % (width - 8)
            frame[:, x:x + 8] = 255 - level
            if pasted is not None and any(start <= t + 1e-9 < end for start, end in clip.faces):
                fh, fw = pasted.shape[:2]
                top, left = (height - fh) // 2, (width - fw) // 2 + 60
                frame[top:top + fh, left:left + fw] = pasted
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


SCENES = [(0.0, 40), (5.3, 200), (12.9, 110)]  # cuts at 5.3 s and 12.9 s
KEPT = [0.0, 2.0, 4.0, 5.3, 7.3, 9.3, 11.3, 12.9, 14.9, 16.9, 18.9]  # every 2 s after the last kept, and the cuts
FACE_FRAMES = [7.3, 9.3, 16.9, 18.9]  # the kept frames showing the face
START = "2026-06-01T09:00:00.000000Z"


def two_cameras(root: Path, portrait: Path, scratch: Path) -> Path:
    """Two cameras' folders under `root`: cam-1 films the person of `portrait` at 6–10 s and 15–19.5 s of a
    20 s clip (scenes SCENES, started at START), cam-2 nobody for 6 s; beside them a truncated video and a
    text file named .mp4."""
    for name in ("cam-1", "cam-2"):
        (root / name).mkdir(parents=True)
    face = face_cut(portrait, (0.475, 0.37))
    write_clip(root / "cam-1" / "lobby.mp4", Clip(scenes=SCENES, faces=[(6.0, 10.0), (15.0, 19.5)], created=START),
               face)
    write_clip(root / "cam-2" / "yard.mp4", Clip(seconds=6, scenes=[(0.0, 90)], created=START))
    whole = write_clip(scratch / "whole.mp4", Clip(seconds=4)).read_bytes()
    (root / "cam-2" / "cut.mp4").write_bytes(whole[:len(whole) // 2])
    (root / "cam-2" / "notes.mp4").write_text("not a video\n")
    return root
