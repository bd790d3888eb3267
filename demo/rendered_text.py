"""Images with known text, drawn here: the ground truth for OCR's tests and benchmark (bench/ocr.py).

`text_collection(n)` draws documents, screenshots, signs and captioned photos in English and Chinese, at
several sizes and small rotations; `question_bank(n)` draws printed questions (拍照搜题) and `phone_photo`
turns one into what a student's phone gives: perspective, a tilt, blur, uneven light, a desk behind, a cut
edge and JPEG noise. Everything is seeded, so a run draws the same images. Fonts are Debian's DejaVu Sans
(fonts-dejavu-core) and WenQuanYi Zen Hei (fonts-wqy-zenhei), installed by the Makefile.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATHS = {
    "latin": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",),
    "han": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
}
SIZES = ((640, 480), (800, 600), (1024, 768), (480, 640), (1280, 720), (900, 900))
KINDS = ("document", "screenshot", "sign", "caption")
# Words a page is made of (shared by many images) and the rarer ones a query looks for.
ENGLISH_WORDS = (
    "invoice total amount payment order delivery customer account balance receipt station platform train "
    "museum garden library open closed exit entrance welcome coffee bakery pharmacy hotel market street north "
    "south east west meeting agenda report quarterly budget revenue profit review project team schedule "
    "monday friday morning evening price offer sale discount member card ticket gate floor room parking").split()
CHINESE_WORDS = (
    "发票 金额 合计 付款 订单 配送 客户 账户 余额 收据 车站 站台 列车 博物馆 花园 图书馆 营业 关闭 出口 入口 欢迎 咖啡 面包 "
    "药店 酒店 市场 街道 北京 上海 会议 议程 报告 季度 预算 收入 利润 项目 团队 日程 星期 上午 下午 价格 优惠 会员 门票 停车 "
    "楼层 房间 学校 医院 银行 超市 公园 地铁 机场 广场 电话 地址").split()
# Syllables and characters the unique words are drawn from: each image gets words no other image has.
_SYLLABLES = "ka ri mo ten vas lor pex dun sil bra qui zor fen hal mip tor wen gus ral bix".split()
_HAN = "龙凤虎豹鹤松竹梅兰菊荷桂枫柳杏桃梨枣橙柚莓葡萄榴樱茶稻麦粟豆芝麻琴棋书画诗词歌赋星辰云霞雷电霜雪泉溪湖海峰岭岩石"


@dataclass
class TextImage:
    """One drawn image and what it says: its lines (in reading order), its language and kind."""

    name: str
    image: Image.Image
    lines: list[str]
    language: str  # "en" or "zh"
    kind: str
    unique: list[str] = field(default_factory=list)  # words only this image holds

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Question:
    """One question of a bank: its id, text, and the business fields a bank sorts by."""

    question_id: str
    lines: list[str]
    knowledge_point: str
    difficulty: int
    image: Image.Image

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@lru_cache(maxsize=64)
def font(script: str, size: int) -> ImageFont.FreeTypeFont:
    """A font for "latin" or "han" text; a missing font is a clear error naming the Debian package."""
    for path in FONT_PATHS[script]:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    package = "fonts-dejavu-core" if script == "latin" else "fonts-wqy-zenhei"
    raise FileNotFoundError(f"no {script} font: install Debian's {package} (the Makefile's `browser` target does)")


def unique_word(index: int, language: str) -> str:
    """A word no other index gives: pseudo-words for English, two or three characters for Chinese."""
    if language == "en":
        n = len(_SYLLABLES)
        return _SYLLABLES[index % n] + _SYLLABLES[(index // n) % n] + _SYLLABLES[(index // (n * n) + 7) % n]
    n = len(_HAN)
    return _HAN[index % n] + _HAN[(index // n + 3 * index + 1) % n] + _HAN[(index * 7 + 5) % n]


def _sentence(rng: random.Random, language: str, words: int) -> str:
    if language == "en":
        return " ".join(rng.choice(ENGLISH_WORDS) for _ in range(words))
    return "".join(rng.choice(CHINESE_WORDS) for _ in range(words))


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A photo-like scene: a sky-to-ground gradient, blobs of colour and sensor noise."""
    width, height = size
    top, bottom = np.array([rng.randint(60, 200) for _ in range(3)]), np.array([rng.randint(20, 140) for _ in range(3)])
    ramp = np.linspace(0, 1, height)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 8)):
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(width // 20, width // 4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(2, 6)))
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[str], x: int, y: int, size: int, language: str,
                fill, spacing: float = 1.5) -> int:
    face = font("latin" if language == "en" else "han", size)
    for line in lines:
        draw.text((x, y), line, font=face, fill=fill)
        y += int(size * spacing)
    return y


def _fit(lines: list[str], language: str, size: int, width: int) -> int:
    """The largest font size ≤ `size` at which every line fits in `width` pixels."""
    while size > 10:
        face = font("latin" if language == "en" else "han", size)
        if all(face.getlength(line) <= width for line in lines):
            return size
        size -= 2
    return size


def draw_text_image(index: int, rng: random.Random, language: str, kind: str) -> TextImage:
    width, height = rng.choice(SIZES)
    unique = [unique_word(2 * index, language), unique_word(2 * index + 1, language)]
    words = 5 if language == "en" else 4
    if kind == "document":
        lines = [_sentence(rng, language, words) for _ in range(rng.randint(4, 8))]
        lines[1] = f"{lines[1]} {unique[0]}" if language == "en" else lines[1] + unique[0]
        lines[-1] = f"{unique[1]} {lines[-1]}" if language == "en" else unique[1] + lines[-1]
        image = Image.new("RGB", (width, height), tuple(rng.randint(235, 255) for _ in range(3)))
        size = _fit(lines, language, max(18, height // 22), int(width * 0.85))
        _draw_lines(ImageDraw.Draw(image), lines, width // 14, height // 10, size, language,
                    tuple(rng.randint(0, 50) for _ in range(3)))
    elif kind == "screenshot":
        lines = [_sentence(rng, language, words - 1) for _ in range(rng.randint(3, 6))]
        lines[0] = f"{unique[0]} {lines[0]}" if language == "en" else unique[0] + lines[0]
        lines.append(unique[1])
        image = Image.new("RGB", (width, height), tuple(rng.randint(200, 250) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        bar = max(30, height // 12)
        draw.rectangle((0, 0, width, bar), fill=tuple(rng.randint(20, 90) for _ in range(3)))
        for row in range(3):
            draw.rectangle((width - (row + 1) * bar, bar // 4, width - row * bar - bar // 3, bar * 3 // 4),
                           fill=(200, 200, 210))
        size = _fit(lines, language, max(16, height // 26), int(width * 0.8))
        _draw_lines(draw, lines, width // 10, bar + height // 12, size, language, (20, 20, 30), 1.8)
    elif kind == "sign":
        lines = [unique[0], f"{rng.choice(ENGLISH_WORDS if language == 'en' else CHINESE_WORDS)} {unique[1]}"]
        image = _background(rng, (width, height))
        draw = ImageDraw.Draw(image)
        size = _fit(lines, language, max(28, height // 9), int(width * 0.6))
        face = font("latin" if language == "en" else "han", size)
        text_width = max(face.getlength(line) for line in lines)
        x0, y0 = rng.randint(10, max(11, int(width - text_width - 40))), rng.randint(10, height // 3)
        plate = tuple(rng.choice(((20, 90, 40), (20, 50, 140), (180, 30, 30), (240, 240, 240))))
        ink = (20, 20, 20) if plate == (240, 240, 240) else (250, 250, 250)
        draw.rectangle((x0 - 20, y0 - 16, x0 + text_width + 20, y0 + int(size * 1.5 * len(lines)) + 8), fill=plate)
        _draw_lines(draw, lines, x0, y0, size, language, ink)
    else:  # a photo with a caption strip
        lines = [f"{_sentence(rng, language, 2)} {unique[0]} {unique[1]}" if language == "en"
                 else _sentence(rng, language, 2) + unique[0] + " " + unique[1]]
        image = _background(rng, (width, height))
        draw = ImageDraw.Draw(image)
        size = _fit(lines, language, max(20, height // 18), int(width * 0.9))
        strip = int(size * 1.8)
        draw.rectangle((0, height - strip, width, height), fill=(0, 0, 0))
        _draw_lines(draw, lines, width // 20, height - strip + size // 3, size, language, (255, 255, 255))
    angle = rng.uniform(-3, 3)
    if abs(angle) > 0.5:
        fill = image.getpixel((1, 1))
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=fill)
    return TextImage(f"{kind}-{language}-{index:04d}", image, lines, language, kind, unique)


def text_collection(count: int, seed: int = 7) -> list[TextImage]:
    """`count` images with text, half English, half Chinese, the four kinds in turn."""
    rng = random.Random(seed)
    return [draw_text_image(i, rng, "en" if i % 2 == 0 else "zh", KINDS[(i // 2) % len(KINDS)])
            for i in range(count)]


def text_free_photos(count: int, seed: int = 11, size: tuple[int, int] = (640, 480)) -> list[Image.Image]:
    """Photo-like scenes with no text at all: what a gate should let pass cheaply."""
    rng = random.Random(seed)
    return [_background(rng, size) for _ in range(count)]


# --------------------------------------------------------------------------- the question bank

KNOWLEDGE_POINTS = ("三角形内角和", "一元一次方程", "分数运算", "百分数", "圆的面积", "速度路程")


def _question_lines(index: int, rng: random.Random) -> tuple[list[str], str]:
    kind = index % len(KNOWLEDGE_POINTS)
    a, b, c = rng.randint(12, 89), rng.randint(12, 89), rng.randint(2, 19)
    number = f"第{index + 1}题"
    if kind == 0:
        lines = [f"{number} 在三角形ABC中，角A={a}度，", f"角B={b}度，求角C的度数。"]
    elif kind == 1:
        lines = [f"{number} 解方程：{c}x+{a}={b + a * c}，", "求x的值并写出检验过程。"]
    elif kind == 2:
        lines = [f"{number} 计算：{c}/{a}+{b}/{a + c}，", "结果化成最简分数。"]
    elif kind == 3:
        lines = [f"{number} 一件商品原价{a * 10}元，打{c % 9 + 1}折后", f"又降价{b}元，现价多少元？"]
    elif kind == 4:
        lines = [f"{number} 一个圆的半径是{c}厘米，", f"它的面积比边长{a}厘米的正方形大还是小？"]
    else:
        lines = [f"{number} 甲乙两地相距{a * 10}千米，汽车每小时", f"行驶{b}千米，{c}小时后还剩多少千米？"]
    return lines, KNOWLEDGE_POINTS[kind]


def question_bank(count: int, seed: int = 5) -> list[Question]:
    """`count` printed questions, each a white card with its text in 28-px type."""
    rng = random.Random(seed)
    bank = []
    for index in range(count):
        lines, point = _question_lines(index, rng)
        size = 28
        face = font("han", size)
        width = int(max(face.getlength(line) for line in lines)) + 80
        image = Image.new("RGB", (max(width, 480), 60 + int(size * 1.7) * len(lines)), (255, 255, 255))
        _draw_lines(ImageDraw.Draw(image), lines, 40, 30, size, "zh", (10, 10, 10), 1.7)
        bank.append(Question(f"q{index + 1:04d}", lines, point, 1 + index % 5, image))
    return bank


def phone_photo(card: Image.Image, seed: int) -> bytes:
    """A phone's JPEG of a printed card on a desk: perspective, a tilt up to 10°, blur, uneven light, a
    cut edge and compression noise."""
    rng = random.Random(seed)
    width, height = card.size
    desk_size = (int(width * 1.5), int(height * 1.8))
    desk = Image.new("RGB", desk_size, (rng.randint(110, 160), rng.randint(80, 110), rng.randint(50, 80)))
    grain = np.random.default_rng(seed).normal(0, 10, (desk_size[1], desk_size[0], 1))
    desk = Image.fromarray(np.clip(np.asarray(desk, dtype=np.float32) + grain, 0, 255).astype(np.uint8))
    tilted = card.convert("RGBA").rotate(rng.uniform(-10, 10), resample=Image.Resampling.BICUBIC, expand=True)
    x, y = (desk_size[0] - tilted.width) // 2, (desk_size[1] - tilted.height) // 2
    desk.paste(tilted, (x, y), tilted)
    # Perspective: the far edge a little narrower, as a phone held at an angle sees it.
    w, h = desk.size
    squeeze = rng.uniform(0.02, 0.08) * w
    quad = (squeeze, 0, 0, h, w, h, w - squeeze, 0)
    photo = desk.transform((w, h), Image.Transform.QUAD, quad, resample=Image.Resampling.BICUBIC)
    # Uneven light: brighter on one side.
    light = np.linspace(rng.uniform(0.65, 0.8), rng.uniform(1.0, 1.1), w)[None, :, None]
    if rng.random() < 0.5:
        light = light[:, ::-1]
    photo = Image.fromarray(np.clip(np.asarray(photo, dtype=np.float32) * light, 0, 255).astype(np.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2)))
    # A cut edge: the photo misses a strip on one side (never the text's first column).
    cut = int(rng.uniform(0.02, 0.06) * w)
    photo = photo.crop((0, 0, w - cut, h)) if rng.random() < 0.5 else photo.crop((0, cut, w, h))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=rng.randint(45, 75))
    return out.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
