"""Sample images for the demo: real photos that scikit-image ships inside its wheel, plus generated scenes.

Nothing is downloaded: the photos are copied byte for byte from the installed package, and the scenes are
drawn here with a fixed seed, so every machine gets the same files. Each sample has a title and tags.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SCENE_SIZE = (640, 480)


@dataclass(frozen=True)
class Sample:
    file_name: str
    title: str
    tags: tuple[str, ...]
    caption: str = ""


# scikit-image's bundled photos (public domain or CC0, see skimage.data): package file → our sample.
PACKAGE_PHOTOS: dict[str, Sample] = {
    "astronaut.png": Sample("astronaut-eileen-collins.png", "Astronaut Eileen Collins",
                            ("person", "astronaut", "portrait", "nasa", "flag"),
                            "Portrait of NASA astronaut Eileen Collins in her orange suit, US flag behind."),
    "chelsea.png": Sample("chelsea-the-cat.png", "Chelsea the cat", ("animal", "cat", "pet"),
                          "A tabby cat looking to the side."),
    "coffee.png": Sample("coffee-cup.png", "Cup of coffee", ("food", "drink", "coffee", "cup"),
                         "An espresso cup on a saucer with a spoon, on a wooden table."),
    "rocket.jpg": Sample("falcon-9-rocket-launch.jpg", "Falcon 9 rocket launch", ("vehicle", "rocket", "launch", "sky"),
                         "A Falcon 9 rocket carrying DSCOVR lifting off from Cape Canaveral."),
    "hubble_deep_field.jpg": Sample("hubble-deep-field.jpg", "Hubble eXtreme Deep Field",
                                    ("sky", "space", "galaxies", "stars", "night"),
                                    "Thousands of distant galaxies seen by the Hubble telescope."),
    "motorcycle_left.png": Sample("motorcycle.png", "Motorcycle", ("vehicle", "motorcycle"),
                                  "A motorcycle parked indoors."),
    "camera.png": Sample("photographer-with-camera.png", "Photographer with a camera",
                         ("person", "camera", "black and white"), "A photographer behind a camera on a tripod."),
    "coins.png": Sample("greek-coins-pompeii.png", "Greek coins from Pompeii", ("object", "coins", "museum"),
                        "Ancient coins laid out on a grey background."),
    "moon.png": Sample("moon-surface.png", "Surface of the moon", ("sky", "moon", "space", "black and white")),
    "brick.png": Sample("brick-wall.png", "Brick wall", ("architecture", "wall", "texture")),
    "grass.png": Sample("grass.png", "Grass", ("plant", "grass", "texture")),
    "gravel.png": Sample("gravel.png", "Gravel", ("texture", "stones")),
    "page.png": Sample("scanned-page.png", "Scanned page of text", ("document", "text", "page")),
    "retina.jpg": Sample("human-retina.jpg", "Human retina", ("medical", "eye", "retina")),
    "ihc.png": Sample("immunohistochemistry-stain.png", "Immunohistochemistry stain", ("medical", "microscope", "cells")),
    "horse.png": Sample("horse-silhouette.png", "Horse silhouette", ("animal", "horse", "drawing")),
}


def package_photo_dir() -> Path | None:
    """The folder of scikit-image's bundled sample photos, or None when scikit-image is not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if folder.is_dir() else None


# --------------------------------------------------------------------------- generated scenes (pure drawing)


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    width, height = size
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    rows = (1 - t) * np.array(top, dtype=np.float32) + t * np.array(bottom, dtype=np.float32)
    return Image.fromarray(np.repeat(rows, width, axis=1).astype(np.uint8), "RGB")


def _grain(image: Image.Image, rng: random.Random, amount: float = 6.0) -> Image.Image:
    """Fine noise and a slight blur, so scenes look less like vector art (and get distinct hashes)."""
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, amount, (image.height, image.width, 1))
    pixels = np.asarray(image, dtype=np.float32) + noise
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(0.6))


def _sunset(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (250, 120, 40), (250, 200, 90)).crop((0, 0, 640, 300)), (0, 0))
    d.ellipse((260, 200, 380, 320), fill=(255, 230, 120))
    d.rectangle((0, 300, 640, 480), fill=(40, 40, 90))
    for y in range(310, 480, 14):
        d.line((rng.randint(150, 280), y, rng.randint(360, 490), y), fill=(240, 150, 70), width=3)


def _ocean(rng, d, im):
    im.paste(_gradient((640, 240), (120, 190, 250), (200, 230, 255)), (0, 0))
    im.paste(_gradient((640, 240), (20, 90, 170), (5, 40, 100)), (0, 240))
    for _ in range(4):
        x, y = rng.randint(0, 560), rng.randint(20, 150)
        for dx in (0, 30, 60):
            d.ellipse((x + dx, y, x + dx + 60, y + 35), fill=(255, 255, 255))


def _forest(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (170, 210, 170), (40, 90, 40)), (0, 0))
    for _ in range(45):
        x, base = rng.randint(-40, 640), rng.randint(260, 480)
        h = rng.randint(120, 260)
        d.polygon([(x, base - h), (x - 45, base), (x + 45, base)], fill=(20, rng.randint(70, 120), 30))
        d.rectangle((x - 6, base, x + 6, base + 20), fill=(80, 50, 30))


def _night_sky(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (5, 8, 30), (20, 30, 70)), (0, 0))
    for _ in range(300):
        x, y, r = rng.randint(0, 639), rng.randint(0, 479), rng.choice((1, 1, 1, 2))
        d.ellipse((x, y, x + r, y + r), fill=(255, 255, 235))
    d.ellipse((470, 60, 560, 150), fill=(245, 245, 220))


def _desert(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (150, 200, 240), (250, 235, 200)), (0, 0))
    for k, color in enumerate(((230, 180, 110), (215, 160, 90), (195, 140, 75))):
        base, phase = 260 + 70 * k, rng.random() * 6
        points = [(x, base + 35 * math.sin(x / (90 + 30 * k) + phase)) for x in range(0, 641, 16)]
        d.polygon(points + [(640, 480), (0, 480)], fill=color)


def _mountains(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (160, 200, 235), (230, 240, 250)), (0, 0))
    for _ in range(6):
        x, h = rng.randint(-100, 600), rng.randint(200, 330)
        d.polygon([(x, 480 - h), (x - 220, 480), (x + 220, 480)], fill=(110, 115, 130))
        d.polygon([(x, 480 - h), (x - 60, 540 - h), (x + 60, 540 - h)], fill=(250, 250, 252))
    d.rectangle((0, 430, 640, 480), fill=(240, 244, 250))


def _flower_field(rng, d, im):
    im.paste(_gradient((640, 160), (140, 200, 250), (210, 235, 255)), (0, 0))
    im.paste(_gradient((640, 320), (90, 160, 60), (40, 110, 30)), (0, 160))
    for _ in range(260):
        x, y = rng.randint(0, 640), rng.randint(170, 480)
        r = 3 + (y - 160) // 40
        d.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randint(200, 240), rng.randint(10, 40), 30))


def _city_dusk(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (70, 40, 110), (250, 140, 80)), (0, 0))
    x = 0
    while x < 640:
        w, h = rng.randint(40, 90), rng.randint(120, 360)
        d.rectangle((x, 480 - h, x + w, 480), fill=(25, 20, 35))
        for wy in range(480 - h + 10, 470, 18):
            for wx in range(x + 6, x + w - 8, 14):
                if rng.random() < 0.45:
                    d.rectangle((wx, wy, wx + 6, wy + 8), fill=(255, 215, 110))
        x += w + rng.randint(2, 10)


def _autumn(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (250, 220, 170), (170, 110, 60)), (0, 0))
    for _ in range(90):
        x, y, r = rng.randint(0, 640), rng.randint(0, 330), rng.randint(25, 60)
        d.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice([(220, 90, 20), (240, 160, 30), (190, 50, 20)]))
    for x in range(40, 640, 120):
        d.rectangle((x, 250, x + 14, 480), fill=(70, 40, 20))


def _lavender(rng, d, im):
    im.paste(_gradient((640, 170), (170, 200, 240), (240, 220, 230)), (0, 0))
    im.paste(_gradient((640, 310), (150, 110, 200), (100, 60, 150)), (0, 170))
    for row in range(12):
        y = 180 + row * 26
        for x in range(-20, 660, 10 + row):
            d.ellipse((x, y, x + 6 + row, y + 10 + row), fill=(rng.randint(120, 170), 80, rng.randint(180, 230)))


def _beach(rng, d, im):
    im.paste(_gradient((640, 200), (90, 180, 240), (180, 225, 250)), (0, 0))
    im.paste(_gradient((640, 110), (40, 200, 200), (80, 220, 210)), (0, 200))
    d.rectangle((0, 310, 640, 480), fill=(240, 220, 170))
    d.line((480, 470, 520, 220), fill=(110, 70, 30), width=14)
    for angle in range(0, 360, 45):
        d.line((520, 220, 520 + 90 * math.cos(math.radians(angle)), 220 + 50 * math.sin(math.radians(angle))),
               fill=(30, 140, 50), width=12)


def _fog(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (205, 205, 205), (160, 160, 160)), (0, 0))
    for x in range(20, 640, 70):
        shade = rng.randint(110, 150)
        d.rectangle((x, rng.randint(180, 260), x + 8, 480), fill=(shade, shade, shade))


def _sunflowers(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (60, 130, 230), (150, 200, 250)), (0, 0))
    for _ in range(16):
        x, y, r = rng.randint(20, 620), rng.randint(140, 460), rng.randint(30, 55)
        d.line((x, y, x, 480), fill=(50, 120, 40), width=8)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(250, 200, 20))
        d.ellipse((x - r // 2, y - r // 2, x + r // 2, y + r // 2), fill=(100, 60, 20))


def _rain(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (90, 100, 120), (50, 55, 70)), (0, 0))
    for _ in range(500):
        x, y = rng.randint(0, 640), rng.randint(0, 480)
        d.line((x, y, x - 4, y + 18), fill=(170, 180, 200), width=1)
    d.rectangle((0, 400, 640, 480), fill=(40, 45, 55))


def _aurora(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (5, 10, 25), (10, 25, 40)), (0, 0))
    for band in range(5):
        base, color = 120 + band * 40, (40, rng.randint(180, 250), rng.randint(100, 160))
        points = [(x, base + 40 * math.sin(x / 70 + band)) for x in range(0, 641, 10)]
        d.line(points, fill=color, width=18)
    d.polygon([(0, 480), (0, 420), (150, 380), (330, 430), (520, 370), (640, 410), (640, 480)], fill=(5, 5, 10))


def _barn(rng, d, im):
    im.paste(_gradient((640, 260), (110, 170, 240), (190, 220, 250)), (0, 0))
    d.rectangle((0, 260, 640, 480), fill=(90, 160, 60))
    d.rectangle((220, 180, 420, 360), fill=(180, 30, 30))
    d.polygon([(200, 190), (320, 100), (440, 190)], fill=(120, 20, 20))
    d.rectangle((290, 270, 350, 360), fill=(245, 240, 230))


def _cherry_blossom(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (200, 225, 250), (250, 240, 245)), (0, 0))
    d.line((0, 400, 300, 250, 640, 180), fill=(80, 50, 50), width=16)
    for _ in range(500):
        x, y, r = rng.randint(0, 640), rng.randint(60, 420), rng.randint(4, 10)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(250, rng.randint(170, 200), rng.randint(200, 225)))


def _monochrome(rng, d, im):
    im.paste((240, 240, 240), (0, 0, 640, 480))
    for k in range(0, 640, 40):
        d.line((k, 0, 640 - k, 480), fill=(20, 20, 20), width=3)
    d.ellipse((220, 140, 420, 340), outline=(0, 0, 0), width=10)


def _blue_waves(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (10, 40, 120), (60, 140, 220)), (0, 0))
    for k in range(14):
        points = [(x, 40 + k * 32 + 14 * math.sin(x / 40 + k)) for x in range(0, 641, 8)]
        d.line(points, fill=(150, 200, 250), width=4)


def _lemons(rng, d, im):
    im.paste(_gradient(SCENE_SIZE, (150, 100, 60), (110, 70, 40)), (0, 0))
    for y in range(0, 480, 30):
        d.line((0, y, 640, y + rng.randint(-5, 5)), fill=(125, 85, 50), width=2)
    for _ in range(9):
        x, y = rng.randint(60, 560), rng.randint(80, 400)
        d.ellipse((x - 55, y - 38, x + 55, y + 38), fill=(250, 225, 40))


SCENES: dict[str, tuple[Sample, Callable]] = {
    s.file_name: (s, draw) for s, draw in (
        (Sample("sunset-over-the-sea.jpg", "Sunset over the sea", ("landscape", "sunset", "sea", "sky")), _sunset),
        (Sample("ocean-with-clouds.jpg", "Ocean under white clouds", ("landscape", "sea", "sky", "clouds")), _ocean),
        (Sample("pine-forest.jpg", "Pine forest", ("landscape", "forest", "trees", "plant")), _forest),
        (Sample("starry-night-sky.jpg", "Starry night sky with the moon", ("sky", "night", "stars", "moon")), _night_sky),
        (Sample("desert-dunes.jpg", "Desert dunes", ("landscape", "desert", "sand")), _desert),
        (Sample("snowy-mountains.jpg", "Snowy mountains", ("landscape", "mountains", "snow")), _mountains),
        (Sample("field-of-red-flowers.jpg", "Field of red flowers", ("plant", "flowers", "field")), _flower_field),
        (Sample("city-skyline-at-dusk.jpg", "City skyline at dusk", ("architecture", "city", "night")), _city_dusk),
        (Sample("autumn-trees.jpg", "Autumn trees", ("plant", "trees", "autumn")), _autumn),
        (Sample("lavender-field.jpg", "Lavender field", ("plant", "flowers", "field", "purple")), _lavender),
        (Sample("tropical-beach.png", "Tropical beach with a palm tree", ("landscape", "beach", "sea", "palm")), _beach),
        (Sample("foggy-morning.jpg", "Foggy morning", ("landscape", "fog", "grey")), _fog),
        (Sample("sunflowers.jpg", "Sunflowers under a blue sky", ("plant", "flowers", "sunflowers", "sky")), _sunflowers),
        (Sample("rainy-evening.jpg", "Rainy evening", ("weather", "rain", "street")), _rain),
        (Sample("northern-lights.jpg", "Northern lights", ("sky", "night", "aurora")), _aurora),
        (Sample("red-barn.png", "Red barn in a green field", ("architecture", "barn", "farm", "field")), _barn),
        (Sample("cherry-blossoms.jpg", "Cherry blossoms", ("plant", "flowers", "spring", "pink")), _cherry_blossom),
        (Sample("black-and-white-lines.png", "Black and white lines", ("art", "abstract", "black and white")), _monochrome),
        (Sample("blue-waves.jpg", "Blue waves", ("art", "abstract", "blue")), _blue_waves),
        (Sample("lemons-on-a-table.jpg", "Lemons on a wooden table", ("food", "fruit", "lemons")), _lemons),
    )
}


def draw_scene(name: str, seed: int = 0) -> Image.Image:
    """Pure: the generated scene `name` (a key of SCENES), the same pixels for the same seed."""
    _, draw = SCENES[name]
    rng = random.Random(f"{name}:{seed}")
    image = Image.new("RGB", SCENE_SIZE)
    draw(rng, ImageDraw.Draw(image), image)
    return _grain(image, rng)


def scene_bytes(name: str, index: int) -> bytes:
    """The encoded file for a scene: JPEG (with an EXIF capture date) or PNG, by its extension."""
    image = draw_scene(name)
    buffer = io.BytesIO()
    if name.endswith(".png"):
        image.save(buffer, "PNG", optimize=True)
    else:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"2023:{1 + index % 12:02d}:{1 + (7 * index) % 28:02d} 1{index % 10}:30:00"
        image.save(buffer, "JPEG", quality=88, exif=exif)
    return buffer.getvalue()


# --------------------------------------------------------------------------- I/O


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, Sample]:
    """Every sample we can write on this installation, by file name."""
    photos = {s.file_name: s for s in PACKAGE_PHOTOS.values()} if package_photo_dir() else {}
    return {**photos, **{name: sample for name, (sample, _) in SCENES.items()}}


def ensure_samples(target: Path) -> list[Path]:
    """Write the sample images into `target` (only those missing) and return all their paths."""
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    source_dir = package_photo_dir()
    if source_dir is not None:
        for package_name, sample in PACKAGE_PHOTOS.items():
            source, path = source_dir / package_name, target / sample.file_name
            if source.is_file():
                if not path.is_file():
                    shutil.copyfile(source, path)
                written.append(path)
    for index, name in enumerate(SCENES):
        path = target / name
        if not path.is_file():
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_bytes(scene_bytes(name, index))
            tmp.replace(path)
        written.append(path)
    return written


def sample_metadata(path: str) -> dict | None:
    """Title, caption and tags for a sample file (by its name), for the ingest's `metadata_for` hook."""
    sample = catalog().get(Path(path).name)
    if sample is None:
        return None
    return {"title": sample.title, "caption": sample.caption, "tags": list(sample.tags)}
