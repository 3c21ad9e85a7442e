"""Text between WhatsApp and Slack: escaping, mrkdwn, splitting.

Wati's non-text items (media, locations, contacts…) are shown in Slack by `bot.text.rendering`.

Slack mrkdwn and WhatsApp share their inline markers: ``*bold*``, ``_italic_``, ``~strike~``,
```` `code` ```` and ```` ```block``` ```` mean the same on both sides, so they pass through
unchanged in both directions. What differs, and is converted here:

* Slack's control characters ``& < >``: customer text is escaped so it can never ping
  (``<!channel>``, ``<@U…>``) nor forge a link; Slack text is unescaped for WhatsApp.
* Slack's ``<…>`` tokens (mentions, channels, links, dates) become plain text for WhatsApp.
* Slack ``:shortcode:`` emoji become Unicode for WhatsApp.
* WhatsApp ``* item`` bullet lines become ``• item`` in Slack, which has no ``*`` bullets.

Plain ``@channel`` / ``@here`` written by a customer is left alone: the bridge posts without
``link_names``, and Slack only pings for the ``<!channel>`` token, which escaping neutralises.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterator

import emoji

# ---------------------------------------------------------------- WhatsApp → Slack


def escape(text: str) -> str:
    """Escape Slack's three control characters, ``&`` first. Nothing else is touched."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FENCE = "```"
_STAR_BULLET = re.compile(r"^(\s*)\* (?=\S)")


def whatsapp_to_slack(text: str) -> str:
    """Customer text → Slack mrkdwn: escaped, with ``* item`` bullets shown as ``• item``."""
    lines, in_code = [], False
    for line in escape(text).split("\n"):
        if not in_code and _FENCE not in line:
            line = _STAR_BULLET.sub(r"\1• ", line)
        lines.append(line)
        in_code ^= line.count(_FENCE) % 2 == 1
    return "\n".join(lines)


def quote(text: str) -> str:
    """WhatsApp text as a Slack block quote (escaped, so it can ping no one)."""
    return "\n".join(f"> {line}" for line in whatsapp_to_slack(text).splitlines() or [""])


# ---------------------------------------------------------------- Slack → WhatsApp

_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_TOKEN = r"<(?P<token>[^<>\n]*)>|&(?P<entity>amp|lt|gt);"
_IN_CODE = re.compile(_TOKEN)
_IN_PROSE = re.compile(
    _TOKEN + r"|(?<!\w):(?P<emoji>[a-z0-9_+'-]+):(?::skin-tone-(?P<tone>[2-6]):)?"
)
# Slack names that the emoji library spells differently or lacks.
_SLACK_EMOJI = {"simple_smile": "🙂"}
_SKIN_TONES = {str(n): chr(0x1F3FB + n - 2) for n in range(2, 7)}
Resolver = Callable[[str], str | None]
"""Looks up a Slack user or channel id; returns a display name or None. Must not raise."""


def _unescape(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: _ENTITIES[m[1]], text)


def _shortcode(name: str) -> str | None:
    """Unicode for a Slack emoji name, or None when it is unknown (custom emoji)."""
    if name in _SLACK_EMOJI:
        return _SLACK_EMOJI[name]
    for alias in (name, name.replace("-", "_")):
        found: str = emoji.emojize(f":{alias}:", language="alias")
        if found != f":{alias}:":
            return found
    if re.fullmatch(r"flag-[a-z]{2}", name):
        return "".join(chr(0x1F1E6 + ord(ch) - ord("a")) for ch in name[5:])
    return None


def _link(inner: str) -> str:
    url, _, label = (_unescape(part) for part in inner.partition("|"))
    for scheme in ("mailto:", "tel:"):
        if url.lower().startswith(scheme):
            return label or url[len(scheme) :]
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.IGNORECASE)
    if not label or label in (url, bare, bare.rstrip("/")):
        return label or url
    return f"{label} ({url})"


def _token(inner: str, resolve_user: Resolver, resolve_channel: Resolver) -> str:
    ident, _, label = inner.partition("|")
    label = _unescape(label)
    if ident.startswith("@"):
        return "@" + (resolve_user(ident[1:]) or label.lstrip("@") or "someone")
    if ident.startswith("#"):
        return "#" + (label.lstrip("#") or resolve_channel(ident[1:]) or "channel")
    if ident.startswith("!"):
        command = ident[1:]
        if command in ("here", "channel", "everyone"):
            return "@" + command
        if command.startswith("subteam^"):
            return label or "@team"
        return label  # <!date^…|fallback> and anything newer: its fallback text
    return _link(inner)


def slack_to_whatsapp(text: str, *, resolve_user: Resolver, resolve_channel: Resolver) -> str:
    """Slack event text → WhatsApp text.

    Mentions become ``@Name`` / ``#channel`` / ``@here``, links ``label (url)`` or the bare URL,
    ``&amp; &lt; &gt;`` the characters, ``:shortcodes:`` Unicode emoji (outside code; unknown and
    custom ones stay as typed). Bold, italic, strike, inline code, code blocks, ``>`` quotes and
    lists keep their markers: WhatsApp reads them the same way.
    """

    def replace(match: re.Match[str]) -> str:
        if match["token"] is not None:
            return _token(match["token"], resolve_user, resolve_channel)
        if match["entity"] is not None:
            return _ENTITIES[match["entity"]]
        found = _shortcode(match["emoji"])
        if found is None:
            return match[0]
        if match["tone"] is not None:
            found = found.replace("\ufe0f", "") + _SKIN_TONES[match["tone"]]
        return found

    parts: list[str] = []
    position = 0
    for code in _CODE_SPAN.finditer(text):
        parts.append(_IN_PROSE.sub(replace, text[position : code.start()]))
        parts.append(_IN_CODE.sub(replace, code[0]))
        position = code.end()
    parts.append(_IN_PROSE.sub(replace, text[position:]))
    return "".join(parts)


# ---------------------------------------------------------------- both directions


def _boundaries(window: str) -> Iterator[list[tuple[int, int]]]:
    """Candidate cuts ``(end of head, start of tail)`` in preference order, one list per kind."""
    yield [(m.start(), m.end()) for m in re.finditer(r"\n[ \t\r]*\n\s*", window)]
    yield [(m.start(), m.end()) for m in re.finditer(r"\n\s*", window)]
    yield [(m.end(1), m.end()) for m in re.finditer(r"([.!?…][)\"'”’]*)\s+", window)]
    yield [(m.start(), m.end()) for m in re.finditer(r"\s+", window)]


def _cut(text: str, limit: int) -> tuple[int, int]:
    """Where to end the next chunk (≤ limit) and where the rest starts."""
    window = text[: limit + 1]
    fences = [m.start() for m in re.finditer(_FENCE, window)]

    def in_code(position: int) -> bool:
        return bisect.bisect_left(fences, position) % 2 == 1

    kinds = list(_boundaries(window))
    for shortest, avoid_code in ((limit // 2, True), (1, True), (1, False)):
        for cuts in kinds:
            usable = [
                (head, tail)
                for head, tail in cuts
                if shortest <= head <= limit and not (avoid_code and in_code(head))
            ]
            if usable and window[: usable[-1][0]].strip():
                return usable[-1]
    head = limit
    while head > 1 and _joins_previous(text[head]):
        head -= 1
    return head, head


def _joins_previous(char: str) -> bool:
    """Combining marks, variation selectors, ZWJ and skin tones belong to the previous char."""
    return bool(unicodedata.combining(char)) or char in _JOINERS or "🏻" <= char <= "🏿"


_JOINERS = frozenset("\u200d\ufe0e\ufe0f")


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters, in order.

    Cuts fall, by preference, between paragraphs, then lines, then after sentences, then between
    words, and only then mid-word (never before a combining mark, ZWJ or skin tone). A cut in the
    second half of the window beats a better kind of cut in the first half, and cuts outside
    ```` ``` ```` blocks beat cuts inside them. The whitespace at each cut is dropped (the end of
    one chunk and the start of the next) and nothing else is: the input is exactly the chunks,
    in order, joined by (and possibly led by) whitespace-only runs. Chunks are never blank;
    blank input gives ``[]``.
    ``limit`` counts code points (Python ``len``).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    chunks: list[str] = []
    rest = text
    while rest.strip():
        if len(rest) <= limit:
            chunks.append(rest)
            break
        head, tail = _cut(rest, limit)
        chunk = rest[:head].rstrip()
        if chunk.strip():
            chunks.append(chunk)
        rest = rest[tail:].lstrip()
    return chunks


def with_agent_prefix(text: str, name: str | None, template: str = "*{name}*: ") -> str:
    """Prefix the agent's name (``*Ana*: hello``); no name, no prefix.

    Newlines and ``*`` are removed from the name so it cannot break the prefix's formatting.
    """
    clean = " ".join((name or "").replace("*", "").split())
    if not clean:
        return text
    return template.replace("{name}", clean) + text


def internal_note(text: str, prefix: str = "note:") -> str | None:
    """The note body when ``text`` starts with ``prefix`` (any case), else None.

    Notes stay in Slack. A prefix ending in a letter or digit must end a word there
    (prefix ``note`` matches ``note hi`` but not ``notes``). An empty prefix matches nothing.
    """
    wanted = prefix.strip().casefold()
    stripped = text.lstrip()
    if not wanted or stripped[: len(wanted)].casefold() != wanted:
        return None
    after = stripped[len(wanted) :]
    if wanted[-1].isalnum() and after[:1].isalnum():
        return None
    return after.strip()
