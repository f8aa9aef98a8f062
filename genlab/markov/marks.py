"""The token alphabet of the word tokenizer: the paragraph mark, the characters that glue to
their neighbours, the marks a token carries when its spacing differs from the default
(␣ space, ⍽ U+00A0, ⎵ U+202F, ‿ none), quote roles, and the noncharacters (sentinels) the
tokenizer's passes write into a paragraph to hand decisions to the token regex.

Quotes “ ” ‘ ’ « » ‹ › are tokens of their own; straight quotes become <" "> <' '>, and
italics _x_ give <_ x _>. PARAGRAPH stands between paragraphs only.
"""

from __future__ import annotations

import re

PARAGRAPH = "<p>"

CLAIM_WS = " \u00a0\u202f"  # the whitespace a token can own (paragraphs are collapsed)
MARK = {" ": "␣", "\u00a0": "⍽", "\u202f": "⎵"}
UNMARK = {"␣": " ", "⍽": "\u00a0", "⎵": "\u202f", "‿": ""}
MARK_CHARS = "".join(UNMARK)

GLUE_LEFT = ",.;:!?…)]}”»›%‰™®"  # no space before
GLUE_RIGHT = "([{“‘«‹¿¡$£€¥#"  # no space after
GLUE_BOTH = "/@"
DASHES = "—–―‒⸺⸻‐‑−-"

# The quote pre-pass writes its decisions into the text as Unicode noncharacters, which
# the token regex then reads as single tokens.
SENTINEL_NAME: dict[str, str] = {
    "\ufdd0": '<"',
    "\ufdd1": "<'",
    "\ufdd2": "<_",
    "\ufdd3": '">',
    "\ufdd4": "'>",
    "\ufdd5": "_>",
    "\ufdd6": "’",  # a ’ that closes a quote (a raw ’ is an apostrophe inside a word)
}
DQ_OPEN, SQ_OPEN, IT_OPEN, DQ_CLOSE, SQ_CLOSE, IT_CLOSE, RSQ_CLOSE = SENTINEL_NAME
OPEN_SENTINELS = DQ_OPEN + SQ_OPEN + IT_OPEN
CLOSE_SENTINELS = DQ_CLOSE + SQ_CLOSE + IT_CLOSE + RSQ_CLOSE
# Spacing a token owns on its left, written just before it by the spacing passes.
GLUE = "\ufdd7"  # no space, although one is due
LEFT_SPACE = {" ": "\ufdd8", "\u00a0": "\ufdd9", "\u202f": "\ufdda"}
LEFT_MARKS = GLUE + "".join(LEFT_SPACE.values())
SENTINELS = "".join(SENTINEL_NAME) + LEFT_MARKS
NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")

ROLE = {
    "“": ("double", 1),
    "”": ("double", -1),
    "‘": ("single", 1),
    "’": ("single", -1),
    "«": ("guillemet", 1),
    "»": ("guillemet", -1),
    "‹": ("single_guillemet", 1),
    "›": ("single_guillemet", -1),
    '<"': ("straight_double", 1),
    '">': ("straight_double", -1),
    "<'": ("straight_single", 1),
    "'>": ("straight_single", -1),
}
SURFACE = {'<"': '"', '">': '"', "<'": "'", "'>": "'", "<_": "_", "_>": "_"}
