"""What real Slack refuses in a message or a view (the Slack stand-in checks every one).

Slack answers `invalid_blocks` (messages) or `invalid_arguments` (views) with a
`response_metadata.messages` line naming the first limit broken, and `msg_too_long` for message
text over 40,000 characters. The limits are Slack's own (Block Kit reference), written out
here on purpose rather than imported from `bot.slack.limits`: the stand-in checks the bridge,
so it must not share the bridge's idea of the numbers.
"""

from __future__ import annotations

from typing import Any

_TEXT_LIMITS = {"section": 3000, "header": 150}
_PLACEHOLDERS = ("static_select", "multi_static_select", "plain_text_input", "conversations_select")


class Refusal(Exception):
    """A limit broken: `error` is Slack's error code, `message` its explanation."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def check_text(text: Any) -> None:
    """Message text Slack would refuse."""
    if isinstance(text, str) and len(text) > 40_000:
        raise Refusal("msg_too_long", "text must be at most 40000 characters")


def check_blocks(
    blocks: list[dict[str, Any]], *, limit: int = 50, error: str = "invalid_blocks"
) -> None:
    """Blocks Slack would refuse: too many, or a text, label or option beyond its limit."""
    if len(blocks) > limit:
        raise Refusal(error, f"no more than {limit} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        _block(block, f"/blocks/{i}", error)


def check_view(view: dict[str, Any]) -> None:
    """A modal Slack would refuse (`invalid_arguments`)."""
    for key in ("title", "submit", "close"):
        _plain(view.get(key), 24, f"/view/{key}", "invalid_arguments")
    meta = view.get("private_metadata")
    if isinstance(meta, str) and len(meta) > 3000:
        raise Refusal(
            "invalid_arguments",
            "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        )
    check_blocks(view.get("blocks") or [], limit=100, error="invalid_arguments")


def _block(block: dict[str, Any], where: str, error: str) -> None:
    kind = block.get("type")
    if isinstance(block.get("block_id"), str) and len(block["block_id"]) > 255:
        raise Refusal(error, f"must be less than 256 characters [json-pointer:{where}/block_id]")
    if kind in _TEXT_LIMITS:
        _text(block.get("text"), _TEXT_LIMITS[kind], f"{where}/text", error)
    for j, field in enumerate(block.get("fields") or []):
        _text(field, 2000, f"{where}/fields/{j}", error)
    if len(block.get("fields") or []) > 10:
        raise Refusal(error, f"no more than 10 items allowed [json-pointer:{where}/fields]")
    if kind == "context" and len(block.get("elements") or []) > 10:
        raise Refusal(error, f"no more than 10 items allowed [json-pointer:{where}/elements]")
    if kind == "actions" and len(block.get("elements") or []) > 25:
        raise Refusal(error, f"no more than 25 items allowed [json-pointer:{where}/elements]")
    if kind == "input":
        _plain(block.get("label"), 2000, f"{where}/label", error)
        _plain(block.get("hint"), 2000, f"{where}/hint", error)
    elements = block.get("elements") or []
    if block.get("accessory"):
        elements = [*elements, block["accessory"]]
    if block.get("element"):
        elements = [*elements, block["element"]]
    for j, element in enumerate(elements):
        if isinstance(element, dict):
            _element(element, f"{where}/elements/{j}", error)


def _element(element: dict[str, Any], where: str, error: str) -> None:
    kind = element.get("type")
    if kind == "button":
        _plain(element.get("text"), 75, f"{where}/text", error)
        value = element.get("value")
        if isinstance(value, str) and len(value) > 2000:
            raise Refusal(error, f"must be less than 2001 characters [json-pointer:{where}/value]")
    if kind in _PLACEHOLDERS:
        _plain(element.get("placeholder"), 150, f"{where}/placeholder", error)
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        _plain(group.get("label"), 75, f"{where}/option_groups/label", error)
        options.extend(group.get("options") or [])
    if len(options) > 100:
        raise Refusal(error, f"no more than 100 items allowed [json-pointer:{where}/options]")
    for k, option in enumerate(options):
        _plain(option.get("text"), 75, f"{where}/options/{k}/text", error)
        _plain(option.get("description"), 75, f"{where}/options/{k}/description", error)
        value = option.get("value")
        if isinstance(value, str) and len(value) > 150:
            raise Refusal(
                error, f"must be less than 151 characters [json-pointer:{where}/options/{k}/value]"
            )


def _text(obj: Any, limit: int, where: str, error: str) -> None:
    if isinstance(obj, dict):
        text = obj.get("text")
        if isinstance(text, str) and len(text) > limit:
            raise Refusal(
                error, f"must be less than {limit + 1} characters [json-pointer:{where}/text]"
            )


def _plain(obj: Any, limit: int, where: str, error: str) -> None:
    if obj is None:
        return
    if isinstance(obj, dict) and obj.get("text") == "":
        raise Refusal(error, f"must be more than 0 characters [json-pointer:{where}/text]")
    _text(obj, limit, where, error)
