"""Text between WhatsApp and Slack: escaping, mrkdwn, non-text items, splitting.

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
import contextlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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


# ---------------------------------------------------------------- Wati items → Slack


@dataclass(frozen=True)
class RenderedItem:
    """A Wati message item as Slack text.

    ``text`` is Slack mrkdwn, already escaped, never empty. ``media_path`` is Wati's file
    reference (a ``data/…`` path or a showFile URL) for the caller to download and upload.
    ``kind`` is the lower-cased Wati type (``text``, ``image``, ``location``…), ``template``
    for templates and broadcasts, ``system`` for ticket events, ``empty`` or ``unsupported``.
    """

    text: str
    media_path: str | None = None
    kind: str = "text"


_MEDIA = {"image": "📷 image", "video": "🎬 video", "audio": "🎵 audio", "sticker": "sticker"}
_MEDIA |= {"voice": "🎤 voice message", "document": "📄 document", "media_placeholder": "📎 media"}
_COORDS = re.compile(r"(-?\d{1,2}\.\d+)\s*,\s*(-?\d{1,3}\.\d+)")
_MAX_LIST = 20  # contacts, order lines


def _str(value: Any) -> str:
    """A text field: strings as they are, numbers written out, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):  # ValueError: an int too long to write out
            return str(value)
    return ""


def _decoded(value: Any) -> Any:
    """Parse a string that holds JSON (Wati nests some payloads that way); else return it."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError, RecursionError):
            return json.loads(value)
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    value = _decoded(value)
    return value if isinstance(value, Mapping) else {}


def _first(source: Any, *keys: str) -> str:
    """The first non-blank text among ``keys`` of ``source`` (if it is a mapping)."""
    for key in keys if isinstance(source, Mapping) else ():
        if found := _str(source.get(key)).strip():
            return found
    return ""


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _plus_text(head: str, text: str) -> str:
    """``head``, then the item's own text (if any and not raw JSON) on the next line."""
    body = text.strip()
    return f"{head}\n{whatsapp_to_slack(body)}" if body and body[0] not in "{[" else head


def render_item(item: Mapping[str, Any]) -> RenderedItem:
    """Turn one raw Wati message item (history or webhook shape) into Slack text.

    Never raises: missing keys, ``None`` values, wrong types and unknown message types all give
    a readable line.
    """
    if not isinstance(item, Mapping):
        return RenderedItem("[unsupported message type: unknown]", None, "unsupported")
    raw_type = _str(item.get("type")).strip()
    kind = raw_type.lower()
    event = _str(item.get("eventType")).strip()
    text = _str(item.get("text"))

    if event == "broadcastMessage" or kind == "template":
        body = _str(item.get("finalText")) or text
        name = _first(item, "templateName", "template_name")
        label = f"[template: {escape(_one_line(name))}]" if name else "[template message]"
        return RenderedItem(whatsapp_to_slack(body) if body.strip() else label, None, "template")
    if not kind and event == "ticket":
        note = _first(item, "eventDescription") or "conversation updated"
        return RenderedItem(f"_{escape(_one_line(note, 200))}_", None, "system")
    if kind == "text" or (not kind and text.strip()):
        if not text.strip():
            return RenderedItem("[empty message]", None, "empty")
        return RenderedItem(whatsapp_to_slack(text), None, "text")
    if kind in _MEDIA:
        return _media(item, kind, text)
    if renderer := _RENDERERS.get(kind):
        return RenderedItem(renderer(item, text), None, "contacts" if kind == "contact" else kind)
    shown = escape(_one_line(raw_type or event or "unknown", 40))
    return RenderedItem(
        _plus_text(f"[unsupported message type: {shown}]", text), None, "unsupported"
    )


def _is_file_reference(value: str) -> bool:
    return value.startswith("data/") or "fileName=" in value


def _media(item: Mapping[str, Any], kind: str, text: str) -> RenderedItem:
    data = item.get("data")
    path = _first(data, "url", "link", "path", "fileName") or _str(data).strip()
    caption = text.strip()
    if not path and _is_file_reference(caption):
        path = caption
    if caption == path or _is_file_reference(caption):
        caption = ""
    label = f"_{_MEDIA[kind]}_" if path else f"_{_MEDIA[kind]} (file missing)_"
    shown = whatsapp_to_slack(caption) if caption else ""
    if path and shown:
        return RenderedItem(shown, path, kind)
    return RenderedItem(f"{label}\n{shown}" if shown else label, path or None, kind)


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and abs(number) <= bound else None


def _degrees(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _location(item: Mapping[str, Any], text: str) -> str:
    fields: dict[str, Any] = {}
    for source in (item.get("location"), item.get("data"), text, item):
        found = _mapping(source)
        fields = {**found, **_mapping(found.get("location")), **fields}
    lat = _coordinate(fields.get("latitude", fields.get("lat")), 90)
    lng = _coordinate(fields.get("longitude", fields.get("lng", fields.get("long"))), 180)
    if (lat is None or lng is None) and (match := _COORDS.search(f"{item.get('data')} {text}")):
        lat, lng = _coordinate(match[1], 90), _coordinate(match[2], 180)
    name, address = _first(fields, "name", "nameLocation", "title"), _first(fields, "address")
    lines = [f"📍 *{escape(_one_line(name, 200))}*" if name else "📍 Location"]
    if address:
        lines.append(escape(_one_line(address, 300)))
    if lat is None or lng is None:
        return _plus_text("\n".join(lines), text)
    where = f"{_degrees(lat)},{_degrees(lng)}"
    return "\n".join(
        [*lines, f"<https://www.google.com/maps?q={where}|{where.replace(',', ', ')}>"]
    )


def _contact_line(contact: Mapping[str, Any]) -> str:
    name_field = contact.get("name")
    parts = (_first(name_field, "first_name", "firstName"), _first(name_field, "last_name"))
    name = _first(name_field, "formatted_name", "formattedName") or " ".join(p for p in parts if p)
    name = name or _str(name_field).strip() or _first(contact, "formattedName", "displayName")
    listed = contact.get("phones")
    phones = (
        [_first(p, "phone", "wa_id") or _str(p) for p in listed] if isinstance(listed, list) else []
    )
    phones = [p.strip() for p in phones if p.strip()] or [_first(contact, "phone", "phoneNumber")]
    numbers = ", ".join(escape(_one_line(p, 40)) for p in phones[:5] if p)
    return f"👤 *{escape(_one_line(name or 'contact'))}*" + (f": {numbers}" if numbers else "")


def _contacts(item: Mapping[str, Any], text: str) -> str:
    for source in (item.get("contacts"), item.get("messageContact"), item.get("data"), text):
        value = _decoded(source)
        if isinstance(value, Mapping):
            value = _decoded(value["contacts"]) if "contacts" in value else [value]
        found = [c for c in value if isinstance(c, Mapping)] if isinstance(value, list) else []
        if found:
            lines = [_contact_line(contact) for contact in found[:_MAX_LIST]]
            more = len(found) - _MAX_LIST
            return "\n".join(lines + ([f"… and {more} more"] if more > 0 else []))
    return _plus_text("👤 Contact card", text)


def _button(item: Mapping[str, Any], text: str) -> str:
    chosen = _first(_mapping(item.get("buttonReply")), "text", "title", "payload") or text.strip()
    return f"🔘 {escape(chosen)}" if chosen else "🔘 (button)"


def _interactive(item: Mapping[str, Any], text: str) -> str:
    listed = _mapping(item.get("listReply"))
    if title := _first(listed, "title"):
        description = _first(listed, "description")
        return f"📋 {escape(title)}" + (f" — {escape(description)}" if description else "")
    chosen = _first(_mapping(item.get("interactiveButtonReply")), "title", "text") or text.strip()
    return f"🔘 {escape(chosen)}" if chosen else "🔘 (reply)"


def _reaction(item: Mapping[str, Any], text: str) -> str:
    reaction = {**_mapping(item.get("data")), **_mapping(item.get("reaction"))}
    if symbol := _first(reaction, "emoji", "reaction") or text.strip():
        return f"{escape(_one_line(symbol, 20))} _reacted to a message_"
    return "_removed a reaction_"


def _order(item: Mapping[str, Any], text: str) -> str:
    order = {**_mapping(text), **_mapping(item.get("data")), **_mapping(item.get("order"))}
    listed = order.get("product_items", order.get("productItems"))
    products = [p for p in listed if isinstance(p, Mapping)] if isinstance(listed, list) else []
    lines = [f"🛒 *Order* ({len(products)} item{'' if len(products) == 1 else 's'})"]
    for product in products[:_MAX_LIST]:
        what = _first(product, "product_retailer_id", "productRetailerId", "name") or "item"
        price = " ".join(filter(None, (_first(product, "item_price"), _first(product, "currency"))))
        line = f"• {_first(product, 'quantity') or '1'} × {_one_line(what)}"
        lines.append(escape(line + (f" — {price}" if price else "")))
    return _plus_text("\n".join(lines), _first(order, "text") or text)


def _catalog(item: Mapping[str, Any], text: str) -> str:
    return _plus_text("🛍️ *Catalog*", text)


_RENDERERS: dict[str, Callable[[Mapping[str, Any], str], str]] = {
    "location": _location,
    "contacts": _contacts,
    "contact": _contacts,
    "button": _button,
    "interactive": _interactive,
    "reaction": _reaction,
    "order": _order,
    "catalog": _catalog,
    "product": _catalog,
}


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
