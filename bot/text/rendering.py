"""Wati message items shown in Slack: text, templates, media, locations, contacts and the rest.

Separate from `bot.text.formatting`, whose escaping it uses: this module knows Wati's item shapes, that
one only knows text.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.text.formatting import escape, whatsapp_to_slack


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
    file_name: str | None = None  # a document's own name (live tenants send it in `text`)


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
        name = _first(item, "templateName", "template_name") or _named_template(item)
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


def _named_template(item: Mapping[str, Any]) -> str:
    """Live tenants name a broadcast's template only inside `eventDescription`."""
    found = re.search(r'"([^"]{1,200})"\s+template', _first(item, "eventDescription"))
    return found.group(1) if found else ""


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
    if kind == "document" and caption and "\n" not in caption and len(caption) <= 255:
        # A document's `text` is its own file name, not a caption (wati-recorded.md §6.2).
        label = f"_{_MEDIA[kind]}_" if path else f"_{_MEDIA[kind]} (file missing)_"
        return RenderedItem(label, path or None, kind, file_name=caption.replace("/", "_"))
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
    # Live tenants put the emoji in `reactionMessage.text` (docs/WATI.md#history-items).
    recorded = _first(item.get("reactionMessage"), "text")
    if symbol := recorded or _first(reaction, "emoji", "reaction") or text.strip():
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
