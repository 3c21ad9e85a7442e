"""What the customer sees, and how their answer is read back.

WhatsApp allows at most three reply buttons, so the buttons offer three marks of the 1-5 scale
(each starting with its number) and the question invites any number from 1 to 5 typed. A
tapped reply button reaches the bridge as a plain message with only the button's text, so a
rating is read from the text alone, whichever way it came.
"""

from __future__ import annotations

import re
import unicodedata

QUESTION = (
    "Thanks for talking to us! How would you rate the help you got, from 1 (poor) to 5 (great)?"
)
BUTTONS = ("5 ⭐ Great", "3 ⭐ OK", "1 ⭐ Poor")
NUMBERED = (
    QUESTION + "\n\n5 - Great\n4 - Good\n3 - OK\n2 - Not good\n1 - Poor\n\nReply with the number."
)
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
STARS = "⭐★*"
# "4", "4/5", "4 out of 5", "four stars", "4 ⭐", "5 ⭐ Great" (a button), with closing punctuation.
_SPOKEN = re.compile(
    r"^(?P<n>[1-5]|one|two|three|four|five)"
    r"(?:\s*(?:/\s*5|out of 5|of 5|stars?|[⭐★*]+))?"
    r"(?:\s+(?:great|good|ok|okay|not good|poor))?"
    r"[\s.!]*$"
)


def rating_of(text: str | None) -> int | None:
    """The 1-5 rating a message gives, or None when it is anything else."""
    if not text:
        return None
    # NFKC folds keycap digits' look-alikes; the variation selector and keycap mark are dropped.
    clean = unicodedata.normalize("NFKC", text).replace("\ufe0f", "").replace("\u20e3", "")
    clean = " ".join(clean.lower().split())
    if clean and len(clean) <= 5 and all(c in STARS or c == " " for c in clean):
        stars = sum(1 for c in clean if c in STARS)
        return stars if 1 <= stars <= 5 else None
    match = _SPOKEN.match(clean)
    if match is None:
        return None
    found = match["n"]
    return int(found) if found.isdigit() else WORDS[found]
