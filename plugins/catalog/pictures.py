"""Sample pictures: a simple illustration of each product, drawn with Pillow.

A tee, a mug, a book cover, a backpack … in the product's colour on a tinted
background, seen from the front, the back or close up. Everything is seeded by the
product (its slug), so the same product is drawn with the same pixels every time, and
a product's pictures differ from its neighbours' in small ways (the background's
pattern, a pocket, the size of the object).

Shapes are drawn at twice the size and halved: Pillow's polygons have no anti-aliasing,
and a 1600 px canvas reduced by a box filter gives smooth edges for a few milliseconds.
"""

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw

SIZE = 800  # the drawn picture: the medium rendition, and the largest one
_SUPER = 2

COLOURS = {
    "white": (242, 240, 234),
    "black": (40, 40, 44),
    "olive": (107, 112, 62),
    "oat": (214, 196, 160),
    "charcoal": (66, 68, 74),
    "sand": (214, 190, 148),
    "slate": (92, 108, 124),
    "moss": (96, 122, 70),
    "natural": (224, 212, 188),
    "grey": (140, 142, 146),
    "rust": (170, 86, 48),
    "sage": (158, 178, 140),
    "clay": (192, 122, 96),
    "steel": (172, 178, 184),
    "forest": (40, 86, 62),
    "sky": (118, 170, 214),
    "yellow": (238, 192, 44),
    "red": (182, 42, 48),
    "kraft": (190, 150, 104),
    "navy": (36, 48, 84),
    "indigo": (58, 64, 122),
    "ecru": (232, 224, 204),
    "terracotta": (196, 106, 76),
    "mustard": (206, 160, 48),
    "teal": (40, 120, 124),
    "plum": (110, 56, 86),
    "blue": (56, 98, 168),
}
# What a product without a colour option is made of, read from its name.
MATERIALS = {
    "denim": (62, 92, 140),
    "waxed": (94, 90, 58),
    "cast iron": (50, 50, 54),
    "brass": (194, 158, 72),
    "olive wood": (164, 122, 72),
    "titanium": (152, 154, 162),
    "enamel": (236, 236, 232),
    "leather": (150, 96, 56),
    "canvas": (186, 166, 122),
    "honey": (222, 150, 40),
    "coffee": (104, 70, 46),
    "sheepskin": (238, 230, 212),
    "breton": (240, 238, 232),
    "percale": (236, 238, 242),
    "linen": (218, 206, 184),
    "down": (38, 54, 76),
    "chef": (190, 196, 204),
    "mushroom": (92, 110, 64),
    "camp kitchen": (200, 98, 52),
}
FALLBACK = ("navy", "indigo", "terracotta", "mustard", "teal", "plum", "forest", "rust", "slate")
# The background's tint by the top of the category path.
TINTS = {
    "clothing": (222, 230, 240),
    "home": (242, 232, 220),
    "outdoors": (222, 236, 224),
    "stationery": (240, 236, 222),
    "books": (238, 228, 236),
}
PAPER = (246, 244, 240)


def colour_of(name: str, option: str | None, rnd: random.Random) -> tuple[int, int, int]:
    """The RGB of a colour option ("Olive"), else of the product's material, else one
    of a few seeded colours."""
    if option:
        words = option.lower()
        for known, rgb in COLOURS.items():
            if known in words:
                return rgb
    lowered = name.lower()
    for material, rgb in MATERIALS.items():
        if material in lowered:
            return rgb
    return COLOURS[rnd.choice(FALLBACK)]


def _mix(a, b, share: float) -> tuple[int, int, int]:
    """``share`` of ``b`` into ``a``."""
    return tuple(round(x + (y - x) * share) for x, y in zip(a, b, strict=True))


def _shade(rgb, factor: float) -> tuple[int, int, int]:
    """Darker below 1, lighter above."""
    if factor < 1:
        return _mix(rgb, (0, 0, 0), 1 - factor)
    return _mix(rgb, (255, 255, 255), factor - 1)


def _luma(rgb) -> float:
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


class Pen:
    """Draws in a 0–100 square, zoomed on ``focus``."""

    def __init__(self, draw: ImageDraw.ImageDraw, size: int, zoom=1.0, focus=(50, 50)):
        self.draw = draw
        self.zoom = zoom
        self.focus = focus
        self.unit = size * _SUPER / 100

    def pt(self, x: float, y: float) -> tuple[float, float]:
        fx, fy = self.focus
        return ((x - fx) * self.zoom + 50) * self.unit, ((y - fy) * self.zoom + 50) * self.unit

    def box(self, x0, y0, x1, y1) -> list[float]:
        (ax, ay), (bx, by) = self.pt(x0, y0), self.pt(x1, y1)
        return [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]

    def w(self, width: float) -> int:
        return max(1, round(width * self.unit * self.zoom))

    def polygon(self, points, fill, outline=None, width=0.0):
        self.draw.polygon([self.pt(*p) for p in points], fill=fill, outline=outline,
                          width=self.w(width) if outline else 0)  # fmt: skip

    def ellipse(self, x0, y0, x1, y1, fill=None, outline=None, width=0.0):
        self.draw.ellipse(self.box(x0, y0, x1, y1), fill=fill, outline=outline,
                          width=self.w(width) if outline else 0)  # fmt: skip

    def rect(self, x0, y0, x1, y1, fill=None, radius=0.0, outline=None, width=0.0):
        self.draw.rounded_rectangle(self.box(x0, y0, x1, y1), radius=self.w(radius) if radius
                                    else 0, fill=fill, outline=outline,
                                    width=self.w(width) if outline else 0)  # fmt: skip

    def line(self, points, fill, width=0.6):
        self.draw.line([self.pt(*p) for p in points], fill=fill, width=self.w(width),
                       joint="curve")  # fmt: skip


@dataclass
class Look:
    """What a drawing needs to know besides the pen: colours and seeded details."""

    colour: tuple[int, int, int]
    background: tuple[int, int, int]
    view: str  # "front" or "back" (a close-up is a zoomed front)
    words: str  # the product's name and colour, lowercased
    rnd: random.Random

    @property
    def striped(self) -> bool:
        return "stripe" in self.words

    @property
    def dark(self):
        return _shade(self.colour, 0.72)

    @property
    def light(self):
        return _shade(self.colour, 1.25)

    @property
    def line(self):
        # Stitches and edges: visible on a dark colour and on a pale one.
        return _shade(self.colour, 0.55) if _luma(self.colour) > 0.35 else _shade(self.colour, 1.5)


# -- clothing ------------------------------------------------------------------------


def _garment(p: Pen, look: Look, sleeves: str, hem=86.0, neck="crew", opening=False,
             hood=False, pocket=False, buttons=0, collar=False):  # fmt: skip
    c, dark, line = look.colour, look.dark, look.line
    back = look.view == "back"
    if hood and back:
        p.ellipse(36, 8, 64, 34, fill=dark)
    sleeve = {
        "short": [(31, 20), (14, 36), (21, 45), (31, 38)],
        "long": [(31, 20), (18, 30), (12, 80), (22, 82), (29, 42)],
        "none": [],
    }[sleeves]
    for side in (sleeve, [(100 - x, y) for x, y in sleeve]):
        if side:
            p.polygon(side, fill=_shade(c, 0.9))
    if sleeves == "long":
        for x0 in (12, 78):
            p.rect(x0, 78, x0 + 10, 83, fill=dark, radius=0.6)
    body = [(31, 20), (42, 16), (58, 16), (69, 20), (69, hem), (31, hem)]
    p.polygon(body, fill=c)
    p.rect(31, hem - 3.5, 69, hem, fill=_shade(c, 0.88))
    if look.striped:
        band = 4.2
        y = 24.0
        while y < hem - 4:
            p.rect(31, y, 69, y + band / 2, fill=COLOURS["navy"])
            y += band
    if hood and not back:
        p.polygon([(38, 18), (44, 10), (56, 10), (62, 18), (56, 24), (44, 24)], fill=dark)
    elif neck == "roll":
        p.rect(41, 10, 59, 21, fill=dark, radius=2)
    elif collar:
        p.polygon([(42, 16), (50, 27), (44, 30), (37, 19)], fill=look.light)
        p.polygon([(58, 16), (50, 27), (56, 30), (63, 19)], fill=look.light)
    else:
        # The inside of the collar at the back shows through the neck opening.
        depth = 19.5 if back else 23
        p.ellipse(43, 13, 57, depth, fill=_shade(c, 0.7), outline=line, width=0.5)
    if back:
        p.rect(47, 19, 53, 22, fill=look.light)  # the label
        return
    if opening:
        p.line([(50, 24 if collar else 20), (50, hem)], fill=line, width=0.5)
        for n in range(buttons):
            p.ellipse(51, 30 + n * 9, 53.5, 32.5 + n * 9, fill=look.light)
    elif buttons:
        for n in range(buttons):
            p.ellipse(49, 22 + n * 4, 51, 24 + n * 4, fill=look.light)
    if pocket:
        p.rect(55, 34, 64, 44, fill=_shade(c, 0.93), outline=line, width=0.3)
    if hood:
        p.rect(39, 58, 61, 72, fill=_shade(c, 0.92), radius=2, outline=line, width=0.3)


def tee(p, look):
    _garment(p, look, "short", hem=84, pocket=look.rnd.random() < 0.5)


def pocket_tee(p, look):
    _garment(p, look, "short", hem=84, pocket=True)


def henley(p, look):
    _garment(p, look, look.rnd.choice(("short", "long")), hem=84, buttons=3)


def long_tee(p, look):
    _garment(p, look, "long", hem=84)


def sweater(p, look):
    _garment(p, look, "long", hem=82)


def rollneck(p, look):
    _garment(p, look, "long", hem=82, neck="roll")


def cardigan(p, look):
    _garment(p, look, "long", hem=84, opening=True, buttons=5)


def hoodie(p, look):
    _garment(p, look, "long", hem=82, hood=True)


def jacket(p, look):
    _garment(p, look, "long", hem=88, opening=True, collar=True, pocket=True, buttons=4)


def vest(p, look):
    _garment(p, look, "none", hem=84, opening=True, collar=False, pocket=True)
    if look.view != "back":
        for y in range(30, 84, 8):
            p.line([(32, y), (68, y)], fill=look.line, width=0.3)


def scarf(p, look):
    c, dark = look.colour, look.dark
    for n, y in enumerate((60, 48, 36, 24)):
        p.rect(22, y, 78, y + 14, fill=_shade(c, 0.86 + n * 0.05), radius=5)
        p.line([(26, y + 3), (74, y + 3)], fill=_shade(c, 0.8), width=0.3)
    for x in range(26, 76, 3):
        p.line([(x, 74), (x + 0.8, 84)], fill=dark, width=0.5)


# -- home -------------------------------------------------------------------------------


def mug(p, look):
    c, dark = look.colour, look.dark
    p.ellipse(62, 40, 80, 64, outline=dark, width=3)
    p.rect(28, 32, 66, 78, fill=c, radius=5)
    p.ellipse(28, 28, 66, 37, fill=_shade(c, 1.15))
    p.ellipse(30, 29, 64, 36, fill=_shade(c, 0.55))
    if look.view != "back" and look.rnd.random() < 0.6:
        p.rect(28, 64, 66, 67, fill=look.light)
    if "enamel" in look.words:
        p.ellipse(28, 28, 66, 37, outline=COLOURS["navy"], width=0.8)


def skillet(p, look):
    c, dark = look.colour, look.dark
    p.rect(64, 46, 94, 54, fill=dark, radius=3)
    p.ellipse(12, 22, 70, 80, fill=c)
    p.ellipse(17, 27, 65, 75, fill=_shade(c, 1.15))
    p.ellipse(20, 30, 62, 72, fill=_shade(c, 0.9))
    p.ellipse(88, 48, 91, 52, fill=look.background)


def pot(p, look):
    c, dark = look.colour, look.dark
    p.rect(26, 38, 74, 76, fill=c, radius=4)
    p.ellipse(24, 33, 76, 43, fill=_shade(c, 1.12))
    p.rect(46, 27, 54, 34, fill=dark, radius=1.5)
    p.line([(74, 46), (88, 42)], fill=dark, width=2.2)


def knife(p, look):
    steel, dark = COLOURS["steel"], _shade(look.colour, 0.6)
    p.polygon([(16, 70), (60, 34), (66, 40), (26, 74)], fill=steel)
    p.line([(18, 70.5), (60, 35)], fill=_shade(steel, 1.2), width=0.6)
    p.polygon([(60, 34), (84, 16), (89, 21), (66, 40)], fill=dark)
    for t in (0.3, 0.6):
        x, y = 60 + 26 * t, 37 - 19 * t
        p.ellipse(x, y, x + 2, y + 2, fill=COLOURS["steel"])


def board(p, look):
    c = look.colour
    p.rect(20, 22, 74, 84, fill=c, radius=8)
    p.rect(74, 44, 86, 60, fill=c, radius=4)
    p.ellipse(78, 49, 83, 55, fill=look.background)
    for n in range(6):
        y = 30 + n * 9 + look.rnd.random() * 3
        p.line([(24, y), (48, y + 2), (70, y - 1)], fill=_shade(c, 0.82), width=0.4)


def carafe(p, look):
    glass = _mix(look.background, (255, 255, 255), 0.5)
    p.polygon([(40, 30), (60, 30), (74, 80), (26, 80)], fill=glass, outline=look.dark, width=0.5)
    p.polygon([(33, 58), (67, 58), (74, 80), (26, 80)], fill=_shade(look.colour, 0.6))
    p.polygon([(34, 14), (66, 14), (56, 30), (44, 30)], fill=look.colour)
    p.rect(38, 10, 62, 15, fill=_shade(look.colour, 1.1), radius=1)


def bottle(p, look):
    c = look.colour
    p.rect(34, 24, 66, 84, fill=c, radius=7)
    p.rect(40, 12, 60, 26, fill=_shade(c, 0.8), radius=3)
    p.rect(38, 44, 62, 60, fill=look.light, radius=1.5)
    p.line([(39, 30), (39, 78)], fill=_shade(c, 1.3), width=1.2)


def textile(p, look):
    c = look.colour
    for n, y in enumerate((62, 46, 30)):
        shade = _shade(c, 0.86 + n * 0.07)
        p.rect(16, y, 84, y + 18, fill=shade, radius=4)
        p.line([(18, y + 15), (82, y + 15)], fill=_shade(c, 0.7), width=0.4)
    if look.striped:
        for y in (34, 50, 66):
            p.rect(16, y, 84, y + 2.5, fill=COLOURS["blue"])
    else:
        p.rect(16, 35, 84, 37, fill=look.light)


def rug(p, look):
    c = look.colour
    p.ellipse(14, 18, 86, 86, fill=c)
    rnd = random.Random(look.rnd.random())
    for _ in range(60):
        x, y = 20 + rnd.random() * 60, 24 + rnd.random() * 56
        p.ellipse(x, y, x + 5, y + 3.5, fill=_shade(c, 0.92 + rnd.random() * 0.1))


# -- outdoors ---------------------------------------------------------------------------


def tent(p, look):
    c, dark = look.colour, look.dark
    p.polygon([(10, 80), (50, 22), (90, 80)], fill=c)
    p.polygon([(50, 22), (90, 80), (70, 80)], fill=_shade(c, 0.85))
    p.polygon([(40, 80), (50, 52), (60, 80)], fill=dark)
    p.line([(50, 22), (50, 14)], fill=dark, width=0.8)


def sleeping_bag(p, look):
    c = look.colour
    p.rect(30, 12, 70, 88, fill=c, radius=18)
    p.ellipse(34, 14, 66, 32, fill=_shade(c, 0.8))
    for y in range(38, 86, 8):
        p.line([(31, y), (69, y)], fill=_shade(c, 0.78), width=0.5)


def headlamp(p, look):
    c = look.colour
    p.ellipse(18, 30, 82, 74, outline=_shade(c, 0.7), width=5)
    p.rect(38, 58, 62, 76, fill=COLOURS["charcoal"], radius=3)
    p.ellipse(43, 61, 57, 73, fill=COLOURS["yellow"])


# -- bags ------------------------------------------------------------------------------


def backpack(p, look):
    c, dark = look.colour, look.dark
    p.line([(36, 22), (34, 10), (50, 8), (66, 10), (64, 22)], fill=dark, width=1.8)
    p.rect(26, 20, 74, 88, fill=c, radius=9)
    if look.view == "back":
        for x in (34, 58):
            p.rect(x, 24, x + 8, 84, fill=dark, radius=3)
        return
    p.rect(26, 20, 74, 46, fill=_shade(c, 0.88), radius=9)
    for x in (38, 58):
        p.rect(x, 40, x + 4, 54, fill=_shade(c, 0.6), radius=1)
    p.rect(34, 60, 66, 82, fill=_shade(c, 0.93), radius=4)


def duffel(p, look):
    c, dark = look.colour, look.dark
    p.line([(34, 40), (40, 18), (60, 18), (66, 40)], fill=dark, width=1.8)
    p.rect(12, 38, 88, 80, fill=c, radius=20)
    p.line([(20, 44), (80, 44)], fill=look.line, width=0.6)
    p.rect(10, 50, 18, 68, fill=dark, radius=3)
    p.rect(82, 50, 90, 68, fill=dark, radius=3)


def dry_bag(p, look):
    c = look.colour
    p.rect(32, 30, 68, 86, fill=c, radius=10)
    for n, y in enumerate((22, 26, 30)):
        p.rect(30, y, 70, y + 4, fill=_shade(c, 0.8 + n * 0.07), radius=1.5)
    p.rect(46, 14, 54, 24, fill=COLOURS["charcoal"], radius=1.5)


def belt_bag(p, look):
    c, dark = look.colour, look.dark
    p.line([(4, 50), (24, 46)], fill=dark, width=2)
    p.line([(76, 46), (96, 50)], fill=dark, width=2)
    p.rect(22, 34, 78, 68, fill=c, radius=14)
    p.line([(28, 42), (72, 42)], fill=look.line, width=0.6)
    p.rect(47, 40, 53, 46, fill=MATERIALS["brass"], radius=1)


def tote(p, look):
    c, dark = look.colour, look.dark
    p.line([(36, 36), (40, 12), (60, 12), (64, 36)], fill=dark, width=1.5)
    p.polygon([(22, 34), (78, 34), (74, 86), (26, 86)], fill=c)


# -- paper -----------------------------------------------------------------------------


def notebook(p, look):
    c = look.colour
    back = look.view == "back"
    p.rect(28, 14, 74, 86, fill=_shade(c, 0.8), radius=2)
    p.rect(26, 12, 72, 84, fill=c, radius=2)
    p.rect(26, 12, 31, 84, fill=_shade(c, 0.85))
    if back:
        p.rect(52, 70, 66, 78, fill=PAPER)
        for n in range(8):
            p.line([(53.5 + n * 1.6, 71), (53.5 + n * 1.6, 77)], fill=COLOURS["black"], width=0.4)
        return
    p.rect(38, 24, 64, 36, fill=PAPER, radius=1)
    p.line([(41, 28), (61, 28)], fill=COLOURS["charcoal"], width=0.8)
    p.line([(41, 32), (54, 32)], fill=COLOURS["grey"], width=0.6)
    p.rect(64, 12, 66.5, 84, fill=_shade(c, 0.6))


def book(p, look):
    c = look.colour
    rnd = look.rnd
    p.rect(28, 12, 74, 86, fill=_shade(c, 0.7), radius=1)
    p.rect(26, 10, 72, 84, fill=c, radius=1)
    if look.view == "back":
        for n in range(6):
            p.line([(34, 22 + n * 5), (64, 22 + n * 5)], fill=look.light, width=0.5)
        return
    band = _shade(c, 1.6)
    p.rect(26, 20, 72, 34, fill=band)
    p.line([(32, 25), (66, 25)], fill=_shade(c, 0.6), width=1.2)
    p.line([(36, 30), (62, 30)], fill=_shade(c, 0.6), width=0.6)
    cx, cy = 49, 56 + rnd.random() * 6
    p.ellipse(cx - 12, cy - 12, cx + 12, cy + 4, fill=_shade(c, 1.35))
    p.rect(cx - 3, cy, cx + 3, cy + 16, fill=_shade(c, 1.5))


def pen(p, look):
    c = look.colour
    p.polygon([(20, 80), (72, 28), (78, 34), (26, 86)], fill=c)
    p.polygon([(72, 28), (84, 16), (86, 18), (78, 34)], fill=_shade(c, 0.75))
    p.polygon([(20, 80), (14, 92), (26, 86)], fill=COLOURS["steel"])
    p.line([(70, 36), (50, 56)], fill=_shade(c, 1.3), width=1)


def pencils(p, look):
    rnd = look.rnd
    for n in range(5):
        x = 24 + n * 11
        colour = _shade(look.colour, 0.8 + rnd.random() * 0.4)
        p.rect(x, 26, x + 8, 78, fill=colour)
        p.polygon([(x, 26), (x + 8, 26), (x + 4, 14)], fill=COLOURS["oat"])
        p.polygon([(x + 2.6, 18), (x + 5.4, 18), (x + 4, 14)], fill=COLOURS["charcoal"])


# -- pantry ----------------------------------------------------------------------------


def pouch(p, look):
    c = look.colour
    p.polygon([(28, 22), (72, 22), (76, 86), (24, 86)], fill=c)
    p.rect(26, 16, 74, 24, fill=_shade(c, 0.8), radius=1)
    p.rect(34, 44, 66, 66, fill=PAPER, radius=2)
    p.ellipse(44, 48, 56, 62, fill=_shade(c, 0.9))


def jar(p, look):
    c = look.colour
    p.rect(30, 30, 70, 84, fill=c, radius=7)
    p.rect(32, 18, 68, 30, fill=COLOURS["charcoal"], radius=2)
    p.rect(34, 46, 66, 68, fill=PAPER, radius=2)
    p.line([(38, 52), (62, 52)], fill=_shade(c, 0.7), width=0.8)
    p.line([(40, 58), (60, 58)], fill=_shade(c, 0.7), width=0.5)
    p.line([(36, 34), (36, 80)], fill=_shade(c, 1.3), width=1.2)


Drawing = Callable[[Pen, Look], None]
# (words in the product's name, drawing, where a close-up looks); the first match wins,
# so the names of things ("dry bag", "towel") come before the words they contain ("top").
KINDS: list[tuple[tuple[str, ...], Drawing, tuple[float, float]]] = [
    (("dry bag", "roll-top"), dry_bag, (50, 24)),
    (("belt bag", "sling", "pouch"), belt_bag, (50, 44)),
    (("sleeping bag",), sleeping_bag, (50, 24)),
    (("backpack", "satchel", "messenger"), backpack, (50, 44)),
    (("duffel",), duffel, (50, 40)),
    (("tote",), tote, (50, 30)),
    (("sheepskin", "rug"), rug, (50, 50)),
    (("towel", "towels", "throw", "blanket", "duvet", "pillowcase", "pillowcases", "cushion",
      "curtain"), textile, (50, 40)),
    (("scarf",), scarf, (70, 76)),
    (("pocket tee",), pocket_tee, (60, 40)),
    (("henley",), henley, (50, 26)),
    (("long sleeve",), long_tee, (50, 24)),
    (("t-shirt", "tee", "shirt", "polo", "tank", "top"), tee, (50, 24)),
    (("cardigan",), cardigan, (52, 40)),
    (("hoodie",), hoodie, (50, 64)),
    (("rollneck", "turtleneck"), rollneck, (50, 18)),
    (("sweater", "jumper", "pullover"), sweater, (40, 30)),
    (("vest",), vest, (50, 40)),
    (("jacket", "parka", "coat", "anorak", "blazer", "overshirt"), jacket, (50, 28)),
    (("mug",), mug, (70, 52)),
    (("skillet", "pan", "plate", "bowl"), skillet, (40, 50)),
    (("pot", "stove", "kettle", "teapot"), pot, (50, 34)),
    (("knife",), knife, (62, 36)),
    (("board",), board, (78, 52)),
    (("coffee set", "carafe", "pour-over"), carafe, (50, 20)),
    (("bottle", "lantern"), bottle, (50, 50)),
    (("tent", "hammock", "chair"), tent, (50, 60)),
    (("headlamp",), headlamp, (50, 66)),
    (("notebook", "planner", "journal", "sketchbook", "folder"), notebook, (50, 30)),
    (("guide", "cookbook", "atlas", "handbook", "almanac", "field notes", "book"), book,
     (49, 58)),
    (("pen",), pen, (80, 24)),
    (("pencil",), pencils, (40, 20)),
    (("coffee", "tea", "granola", "chocolate"), pouch, (50, 55)),
    (("honey", "jam", "olive oil"), jar, (50, 54)),
]  # fmt: skip
_KIND_WORDS = [
    (re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b"), drawing, focus)
    for words, drawing, focus in KINDS
]
# When no word of the name matches: what the category usually sells.
BY_CATEGORY = {
    "clothing": tee,
    "home": textile,
    "outdoors": backpack,
    "stationery": notebook,
    "books": book,
}


def kind_of(name: str, category_path: str) -> tuple[Drawing, tuple[float, float]]:
    """What to draw for a product: a word of its name, else a word of its category
    ("t-shirts", "bags"), else what its department usually sells."""
    for text in (name.lower(), category_path.rsplit("/", 1)[-1].replace("-", " ")):
        for words, drawing, focus in _KIND_WORDS:
            if words.search(text):
                return drawing, focus
    return BY_CATEGORY.get(category_path.split("/", 1)[0], bottle), (50, 50)


# What has a back worth showing; everything else is seen from the front and close up.
WITH_BACK = {tee, pocket_tee, henley, long_tee, sweater, rollneck, cardigan, hoodie, jacket,
             vest, backpack, notebook, book}  # fmt: skip


def views_of(name: str, category_path: str) -> tuple[str, ...]:
    drawing, _focus = kind_of(name, category_path)
    return ("front", "back", "detail") if drawing in WITH_BACK else ("front", "detail")


def _background(draw, look: Look, rnd: random.Random, size: int) -> None:
    full = size * _SUPER
    floor = _shade(look.background, 0.94)
    draw.rectangle([0, int(full * 0.74), full, full], fill=floor)
    pattern = rnd.choice(("plain", "dots", "lines"))
    faint = _shade(look.background, 0.965)
    if pattern == "dots":
        step = full // 16
        for x in range(step // 2, full, step):
            for y in range(step // 2, int(full * 0.72), step):
                draw.ellipse([x - step // 12, y - step // 12, x + step // 12, y + step // 12],
                             fill=faint)  # fmt: skip
    elif pattern == "lines":
        step = full // 12
        for x in range(-full, full, step):
            draw.line([(x, int(full * 0.74)), (x + full, -int(full * 0.26))], fill=faint,
                      width=max(2, full // 260))  # fmt: skip


def draw(name: str, category_path: str, colour_option: str | None, view: str, seed: str,
         size: int = SIZE) -> Image.Image:  # fmt: skip
    """The ``view`` ("front", "back" or "detail") of a product, ``size`` pixels square."""
    rnd = random.Random(seed)
    colour = colour_of(name, colour_option, rnd)
    tint = TINTS.get(category_path.split("/", 1)[0], PAPER)
    background = _mix(tint, colour, 0.12 + rnd.random() * 0.08)
    if abs(_luma(background) - _luma(colour)) < 0.18:
        # A white tee on a pale ground, a black skillet on a dark one: keep them apart.
        background = _shade(background, 0.78) if _luma(colour) > 0.5 else _shade(background, 1.3)
    drawing, focus = kind_of(name, category_path)
    detail = view == "detail"
    words = f"{name} {colour_option or ''}".lower()
    look = Look(colour, background, "front" if detail else view, words, random.Random(seed))

    canvas = Image.new("RGB", (size * _SUPER, size * _SUPER), background)
    pen_draw = ImageDraw.Draw(canvas)
    _background(pen_draw, look, rnd, size)
    scale = 1.0 + rnd.random() * 0.1
    if detail:
        jitter = (rnd.uniform(-3, 3), rnd.uniform(-3, 3))
        pen = Pen(pen_draw, size, zoom=2.4, focus=(focus[0] + jitter[0], focus[1] + jitter[1]))
    else:
        # A soft shadow on the floor, then the object a little smaller or larger.
        shadow = Pen(pen_draw, size)
        shadow.ellipse(22, 84, 78, 92, fill=_shade(look.background, 0.86))
        pen = Pen(pen_draw, size, zoom=scale, focus=(50, 52))
    drawing(pen, look)
    return canvas.reduce(_SUPER)
