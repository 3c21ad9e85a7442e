import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.rendering import render_item

# ---------------------------------------------------------------- render_item


def item(**fields: Any) -> dict[str, Any]:
    return {"id": "65f0c1a2b3c4d5e6f7a8b9c0", "eventType": "message", "owner": False, **fields}


RENDERED = [
    (item(type="text", text="Hi, is my order shipped?"), "Hi, is my order shipped?", None, "text"),
    (
        item(type="text", text="<!channel> *now* & then"),
        "&lt;!channel&gt; *now* &amp; then",
        None,
        "text",
    ),
    (item(type="text", text="   "), "[empty message]", None, "empty"),
    (item(type="text", text=None), "[empty message]", None, "empty"),
    (item(type="Text", text="case"), "case", None, "text"),
    (item(text="no type given"), "no type given", None, "text"),
    # media
    (
        item(type="image", text="the box", data="data/images/a.jpg"),
        "the box",
        "data/images/a.jpg",
        "image",
    ),
    (
        item(type="image", text=None, data="data/images/a.jpg"),
        "_📷 image_",
        "data/images/a.jpg",
        "image",
    ),
    (
        item(type="video", text="", data="data/videos/v.mp4"),
        "_🎬 video_",
        "data/videos/v.mp4",
        "video",
    ),
    (item(type="audio", data="data/audios/a.mp3"), "_🎵 audio_", "data/audios/a.mp3", "audio"),
    (
        item(type="voice", data="data/audios/v.ogg"),
        "_🎤 voice message_",
        "data/audios/v.ogg",
        "voice",
    ),
    (
        # A document's `text` is its own file name (live tenants): the file carries it.
        item(type="document", text="Invoice-2041.pdf", data="data/documents/d.pdf"),
        "_📄 document_",
        "data/documents/d.pdf",
        "document",
    ),
    (
        item(type="sticker", data="data/stickers/s.webp"),
        "_sticker_",
        "data/stickers/s.webp",
        "sticker",
    ),
    (
        item(
            type="image",
            text="https://live-mt-server.wati.io/1/api/file/showFile?fileName=data/images/x.jpg",
            data=None,
        ),
        "_📷 image_",
        "https://live-mt-server.wati.io/1/api/file/showFile?fileName=data/images/x.jpg",
        "image",
    ),
    (
        item(type="image", text="data/images/x.jpg", data="data/images/x.jpg"),
        "_📷 image_",
        "data/images/x.jpg",
        "image",
    ),
    (
        item(type="image", data={"url": "data/images/y.jpg"}),
        "_📷 image_",
        "data/images/y.jpg",
        "image",
    ),
    (
        item(type="image", text="caption only", data=None),
        "_📷 image (file missing)_\ncaption only",
        None,
        "image",
    ),
    (item(type="document", data=None), "_📄 document (file missing)_", None, "document"),
    # location
    (
        item(
            type="location",
            data=json.dumps(
                {
                    "latitude": -23.55052,
                    "longitude": -46.633308,
                    "name": "Paulista",
                    "address": "Av. Paulista, 1578",
                }
            ),
        ),
        "📍 *Paulista*\nAv. Paulista, 1578\n"
        "<https://www.google.com/maps?q=-23.55052,-46.633308|-23.55052, -46.633308>",
        None,
        "location",
    ),
    (
        item(type="location", location={"latitude": "51.5", "longitude": "-0.12"}),
        "📍 Location\n<https://www.google.com/maps?q=51.5,-0.12|51.5, -0.12>",
        None,
        "location",
    ),
    (
        item(type="location", text="https://maps.google.com/?q=40.712776,-74.005974"),
        "📍 Location\n<https://www.google.com/maps?q=40.712776,-74.005974|40.712776, -74.005974>",
        None,
        "location",
    ),
    (
        item(type="location", text="near the <station>"),
        "📍 Location\nnear the &lt;station&gt;",
        None,
        "location",
    ),
    (
        item(type="location", data={"latitude": 999, "longitude": 0}),
        "📍 Location",
        None,
        "location",
    ),
    (
        item(type="location", data={"latitude": True, "longitude": "x"}),
        "📍 Location",
        None,
        "location",
    ),
    # contacts
    (
        item(
            type="contacts",
            data=json.dumps(
                [
                    {
                        "name": {"formatted_name": "Jo Doe"},
                        "phones": [{"phone": "+1 415 555 0100", "wa_id": "14155550100"}],
                    }
                ]
            ),
        ),
        "👤 *Jo Doe*: +1 415 555 0100",
        None,
        "contacts",
    ),
    (
        item(
            type="contacts",
            messageContact={
                "contacts": [
                    {
                        "name": {"first_name": "Ana", "last_name": "Lima"},
                        "phones": ["+55 11 91234-5678"],
                    },
                    {"name": "Bo"},
                ]
            },
        ),
        "👤 *Ana Lima*: +55 11 91234-5678\n👤 *Bo*",
        None,
        "contacts",
    ),
    (item(type="contacts", text="a card"), "👤 Contact card\na card", None, "contacts"),
    (item(type="contacts"), "👤 Contact card", None, "contacts"),
    # buttons and interactive replies
    (
        item(type="button", text="Yes", buttonReply={"text": "Yes please", "payload": "YES"}),
        "🔘 Yes please",
        None,
        "button",
    ),
    (item(type="button", text="Fallback", buttonReply=None), "🔘 Fallback", None, "button"),
    (item(type="button"), "🔘 (button)", None, "button"),
    (
        item(type="interactive", interactiveButtonReply={"title": "Track my order"}),
        "🔘 Track my order",
        None,
        "interactive",
    ),
    (
        item(type="interactive", listReply={"title": "Pro plan", "description": "$10 <monthly>"}),
        "📋 Pro plan — $10 &lt;monthly&gt;",
        None,
        "interactive",
    ),
    (item(type="interactive", listReply={"title": "Basic"}), "📋 Basic", None, "interactive"),
    (item(type="interactive", text="typed"), "🔘 typed", None, "interactive"),
    # reactions
    (item(type="reaction", text="👍"), "👍 _reacted to a message_", None, "reaction"),
    (
        item(type="reaction", reaction={"emoji": "❤️", "message_id": "wamid.x"}),
        "❤️ _reacted to a message_",
        None,
        "reaction",
    ),
    (item(type="reaction", text=""), "_removed a reaction_", None, "reaction"),
    # orders and catalogs
    (
        item(
            type="order",
            data={
                "product_items": [
                    {
                        "product_retailer_id": "SKU-1",
                        "quantity": 2,
                        "item_price": 9.5,
                        "currency": "EUR",
                    },
                    {"product_retailer_id": "SKU-2"},
                ],
                "text": "gift wrap",
            },
        ),
        "🛒 *Order* (2 items)\n• 2 × SKU-1 — 9.5 EUR\n• 1 × SKU-2\ngift wrap",
        None,
        "order",
    ),
    (item(type="order", text="see cart"), "🛒 *Order* (0 items)\nsee cart", None, "order"),
    (
        item(type="catalog", text="Spring collection"),
        "🛍️ *Catalog*\nSpring collection",
        None,
        "catalog",
    ),
    # templates, broadcasts, system rows
    (
        {
            "eventType": "broadcastMessage",
            "finalText": "Hello Ana, order *1001* shipped.",
            "owner": True,
        },
        "Hello Ana, order *1001* shipped.",
        None,
        "template",
    ),
    (item(type="template", text="Body & text"), "Body &amp; text", None, "template"),
    (
        item(type="template", templateName="order_update"),
        "[template: order_update]",
        None,
        "template",
    ),
    ({"eventType": "broadcastMessage"}, "[template message]", None, "template"),
    (
        {"eventType": "ticket", "eventDescription": "Chat closed by <Bob>"},
        "_Chat closed by &lt;Bob&gt;_",
        None,
        "system",
    ),
    ({"eventType": "ticket"}, "_conversation updated_", None, "system"),
    # unknown
    (
        item(type="poll", text="Which day?"),
        "[unsupported message type: poll]\nWhich day?",
        None,
        "unsupported",
    ),
    (item(type="<!channel>"), "[unsupported message type: &lt;!channel&gt;]", None, "unsupported"),
    ({"eventType": "call"}, "[unsupported message type: call]", None, "unsupported"),
    ({}, "[unsupported message type: unknown]", None, "unsupported"),
    (
        {"type": None, "text": None, "data": None},
        "[unsupported message type: unknown]",
        None,
        "unsupported",
    ),
    ({"type": ["image"], "text": 5}, "5", None, "text"),
    ({"type": 7}, "[unsupported message type: 7]", None, "unsupported"),
]


@pytest.mark.parametrize(("raw", "text", "media_path", "kind"), RENDERED)
def test_render_item(raw: dict[str, Any], text: str, media_path: str | None, kind: str) -> None:
    rendered = render_item(raw)
    assert (rendered.text, rendered.media_path, rendered.kind) == (text, media_path, kind)


def test_rendered_item_is_frozen() -> None:
    rendered = render_item(item(type="text", text="x"))
    with pytest.raises(AttributeError):
        rendered.text = "y"  # type: ignore[misc]


def test_render_item_tolerates_a_non_mapping() -> None:
    assert render_item(["not", "a", "dict"]).kind == "unsupported"  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
item_keys = st.sampled_from(
    ["type", "text", "data", "eventType", "finalText", "buttonReply", "listReply",
     "interactiveButtonReply", "location", "contacts", "messageContact", "reaction", "order",
     "templateName", "eventDescription", "latitude", "longitude"]
)  # fmt: skip
item_types = st.sampled_from(
    ["text", "image", "video", "audio", "voice", "document", "sticker", "location", "contacts",
     "button", "interactive", "reaction", "order", "catalog", "template", "media_placeholder",
     "ticket", "unknown", ""]
)  # fmt: skip
strings_as_json = json_values.map(json.dumps)


@settings(max_examples=300)
@given(
    st.dictionaries(item_keys, json_values | strings_as_json, max_size=8),
    st.one_of(st.none(), item_types, json_values),
)
def test_render_item_never_raises(raw: dict[str, Any], kind: Any) -> None:
    raw = {**raw, "type": kind}
    rendered = render_item(raw)
    assert isinstance(rendered.text, str) and rendered.text.strip()
    assert rendered.media_path is None or isinstance(rendered.media_path, str)
    assert isinstance(rendered.kind, str) and rendered.kind
    assert "<!" not in rendered.text and "<@" not in rendered.text


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_render_item_never_raises_on_any_keys(raw: dict[str, Any]) -> None:
    assert isinstance(render_item(raw).text, str)


def test_a_documents_text_is_its_file_name() -> None:
    rendered = render_item(item(type="document", text="Invoice-2041.pdf", data="data/d/6b16.pdf"))
    assert rendered.file_name == "Invoice-2041.pdf" and rendered.media_path == "data/d/6b16.pdf"
    assert render_item(item(type="image", text="x.jpg", data="data/i/1.jpg")).file_name is None
