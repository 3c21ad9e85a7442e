"""Block Kit modals for chat-ops (pure builders), their private_metadata, and reading a submission.

Each modal carries its context (channel, thread or number) as JSON in `private_metadata`;
`load_meta` checks its shape and kind, and the listeners check that it still names a linked
channel and a conversation of that channel before acting on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.slack import limits
from bot.text.formatting import escape, whatsapp_to_slack
from bot.text.templates import render
from bot.wati.types import Template

# Modal callback ids.
TEMPLATE_VIEW = "wati_template"
NEW_CHAT_VIEW = "wati_new_chat"
CONTACT_VIEW = "wati_contact"
FORWARD_VIEW = "wati_forward"
BROADCAST_VIEW = "wati_broadcast"
ATTRIBUTES_VIEW = "wati_attributes"
NOTICE_VIEW = "wati_notice"
VIEW_CALLBACK_IDS = frozenset(
    {TEMPLATE_VIEW, NEW_CHAT_VIEW, CONTACT_VIEW, FORWARD_VIEW, BROADCAST_VIEW, ATTRIBUTES_VIEW}
)

# The template select (dispatches a block action so the parameter inputs can be shown).
TEMPLATE_PICK = "wati_template_pick"
# Every other input element uses this action id; the block id says what it is.
INPUT = "value"
TEMPLATE, NUMBER, LINKED = "template", "number", "linked"
TEXT, CONVERSATION = "text", "conversation"
RECIPIENTS, CSV, NAME, BROADCAST_NAME = "recipients", "csv", "name", "broadcast_name"
NEW_ATTR_NAME, NEW_ATTR_VALUE = "new_attr_name", "new_attr_value"
PARAM, ATTR = "param:", "attr:"

MAX_META = 3000
MAX_INPUT = 3000
MAX_OPTIONS = limits.OPTIONS
MAX_ATTRIBUTES = 40


class BadMetadata(ValueError):
    """A submission's private_metadata is not what the bridge put there."""


def dump_meta(kind: str, **fields: Any) -> str:
    """Context for a modal, as private_metadata."""
    text = json.dumps({"kind": kind, **fields}, separators=(",", ":"))
    if len(text) > MAX_META:
        raise ValueError("private_metadata over 3,000 characters")
    return text


def load_meta(text: object, kind: str) -> dict[str, Any]:
    """The context of a submitted modal; BadMetadata unless it is a JSON object of that kind."""
    try:
        meta = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        raise BadMetadata(f"not a {kind} modal's context")
    return meta


def form_values(view: Mapping[str, Any]) -> dict[str, Any]:
    """block_id → what was entered: text (stripped; None when empty), a chosen option's value,
    or a list of file objects."""
    found: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for element in (actions or {}).values():
            kind = element.get("type")
            if kind in ("static_select", "external_select"):
                found[block_id] = (element.get("selected_option") or {}).get("value")
            elif kind == "file_input":
                found[block_id] = list(element.get("files") or [])
            else:
                value = element.get("value")
                found[block_id] = (value.strip() or None) if isinstance(value, str) else value
    return found


def params_of(values: Mapping[str, Any], template: Template) -> dict[str, str]:
    """The template parameter values entered in a modal."""
    return {p: str(values.get(PARAM + p) or "") for p in template.params}


def attributes_of(values: Mapping[str, Any]) -> dict[str, str]:
    """The contact attributes shown for editing in a contact modal (cleared ones as "")."""
    return {k[len(ATTR) :]: str(v or "") for k, v in values.items() if k.startswith(ATTR)}


# -- small parts ---------------------------------------------------------------------------


def _plain(text: str, limit: int = limits.OPTION_TEXT) -> dict[str, Any]:
    return limits.plain(text, limit)


def _section(text: str) -> dict[str, Any]:
    return limits.section(text)


def _context(text: str) -> dict[str, Any]:
    return limits.context(text)


def _modal(
    callback_id: str, title: str, blocks: list[dict[str, Any]], meta: str, submit: str | None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, limits.MODAL_TITLE),
        "close": _plain("Cancel" if submit else "Close", limits.MODAL_TITLE),
        "blocks": limits.fit_blocks(blocks, limits.MODAL_BLOCKS),
        "private_metadata": meta,
    }
    if submit:
        view["submit"] = _plain(submit, limits.MODAL_TITLE)
    return view


def text_input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    multiline: bool = False,
    placeholder: str | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    """An input block holding a plain_text_input."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": INPUT,
        "multiline": multiline,
    }
    if initial and len(initial) <= MAX_INPUT:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = _plain(placeholder, limits.PLACEHOLDER)
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, limits.INPUT_LABEL),
        "optional": optional,
        "element": element,
    }
    if hint:
        block["hint"] = _plain(hint, limits.INPUT_HINT)
    return block


def _option(text: str, value: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _plain(text), "value": value[: limits.OPTION_VALUE]}
    if description:
        option["description"] = _plain(description)
    return option


def _select(
    block_id: str, label: str, options: list[dict[str, Any]], initial: str | None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": INPUT,
        "placeholder": _plain("Choose…"),
        "options": options[:MAX_OPTIONS],
    }
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, limits.INPUT_LABEL),
        "element": element,
    }


def _file_input(block_id: str, label: str, hint: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, limits.INPUT_LABEL),
        "optional": True,
        "hint": _plain(hint, limits.INPUT_HINT),
        "element": {
            "type": "file_input",
            "action_id": INPUT,
            "filetypes": ["csv", "txt"],
            "max_files": 1,
        },
    }


# -- simple modals -------------------------------------------------------------------------


def loading(title: str) -> dict[str, Any]:
    """Shown at once (a trigger_id lasts 3 s) while Wati is asked for what the real modal needs."""
    return _modal(
        NOTICE_VIEW, title, [_section(":hourglass_flowing_sand: Loading from Wati…")], "", None
    )


def notice(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a refusal, an error, nothing to choose from)."""
    return _modal(NOTICE_VIEW, title, [_section(text)], "", None)


# -- templates -----------------------------------------------------------------------------


def template_picker(templates: Sequence[Template], selected: Template | None) -> dict[str, Any]:
    """The template select; choosing one dispatches TEMPLATE_PICK so its parameters appear."""
    options = [
        _option(t.name, t.name, " ".join(t.body.split())[:75] or None)
        for t in templates[:MAX_OPTIONS]
    ]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": TEMPLATE_PICK,
        "placeholder": _plain("Choose an approved template"),
        "options": options,
    }
    chosen = next((o for o in options if selected and o["value"] == selected.name), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": TEMPLATE,
        "dispatch_action": True,
        "label": _plain("Template", limits.INPUT_LABEL),
        "element": element,
    }


def preview(template: Template, values: Mapping[str, str]) -> dict[str, Any]:
    """The template's text with what is filled in so far (the rest shown as `{{name}}`)."""
    filled = {k: v for k, v in values.items() if v}
    lines = whatsapp_to_slack(render(template.body, filled)).splitlines() or [""]
    return _section("*Preview*\n" + "\n".join(f"> {line}" for line in lines))


def template_modal(
    *,
    callback_id: str,
    title: str,
    meta: str,
    intro: str,
    templates: Sequence[Template],
    selected: Template | None,
    prefill: Mapping[str, str],
    head: Sequence[dict[str, Any]] = (),
    tail: Sequence[dict[str, Any]] = (),
    params_optional: bool = False,
    submit: str = "Send",
) -> dict[str, Any]:
    """A modal to choose a template and fill one input per parameter, with a preview."""
    blocks: list[dict[str, Any]] = [_section(intro), *head]
    if not templates:
        blocks.append(
            _section(":warning: Wati lists no approved template, so there is nothing to send yet.")
        )
        return _modal(callback_id, title, blocks, meta, None)
    blocks.append(template_picker(templates, selected))
    if selected is not None:
        for param in selected.params:
            blocks.append(
                text_input(
                    PARAM + param,
                    f"{{{{{param}}}}}",
                    initial=prefill.get(param),
                    optional=params_optional,
                )
            )
        blocks.append(preview(selected, prefill))
    blocks.extend(tail)
    return _modal(callback_id, title, blocks, meta, submit)


def linked_select(links: Sequence[tuple[str, str]], initial: str | None) -> dict[str, Any]:
    """Which linked number (and so which channel) a new chat starts from: (number, label) pairs."""
    options = [_option(text, number) for number, text in links]
    return _select(LINKED, "From WhatsApp number", options, initial)


def broadcast_tail() -> list[dict[str, Any]]:
    """Recipients (pasted or a CSV file) and the broadcast's name."""
    return [
        text_input(
            RECIPIENTS,
            "Numbers, one per line",
            optional=True,
            multiline=True,
            placeholder="+44 7700 900123",
        ),
        _file_input(
            CSV,
            "…or a CSV file",
            "Optional header row with a `phone` column; columns named after the template's "
            "parameters give each recipient's own values.",
        ),
        text_input(BROADCAST_NAME, "Broadcast name in Wati", optional=True),
    ]


# -- contacts, forwarding, attributes ----------------------------------------------------------


def contact_modal(
    *, meta: str, number_label: str, name: str | None, attributes: Mapping[str, str] | None
) -> dict[str, Any]:
    """Edit a contact's attributes, or (attributes None) add the contact to Wati."""
    blocks: list[dict[str, Any]] = []
    if attributes is None:
        blocks.append(_section(f"*{escape(number_label)}* is not a Wati contact yet. Add it:"))
        blocks.append(text_input(NAME, "Name", initial=name))
        title, submit = "Add contact", "Add"
    else:
        blocks.append(
            _section(
                f":bust_in_silhouette: *{escape(name or number_label)}*\n{escape(number_label)}"
            )
        )
        for key, value in list(attributes.items())[:MAX_ATTRIBUTES]:
            blocks.append(text_input(ATTR + key, key, initial=value, optional=True))
        if not attributes:
            blocks.append(_context("No attributes yet."))
        title, submit = "Contact", "Save"
    blocks.append(
        text_input(NEW_ATTR_NAME, "New attribute name", optional=True, placeholder="city")
    )
    blocks.append(text_input(NEW_ATTR_VALUE, "New attribute value", optional=True))
    return _modal(CONTACT_VIEW, title, blocks, meta, submit)


def forward_modal(
    *,
    meta: str,
    source: str,
    groups: Sequence[tuple[str, Sequence[tuple[int, str]]]],
    initial: int | None,
    text: str,
) -> dict[str, Any]:
    """Choose an open conversation (grouped by number) and check the text before it goes."""
    option_groups = []
    flat: list[dict[str, Any]] = []
    for group_label, conversations in groups:
        options = [_option(text_, str(thread_id)) for thread_id, text_ in conversations]
        options = options[: MAX_OPTIONS - len(flat)]
        if options:
            option_groups.append({"label": _plain(group_label), "options": options})
            flat.extend(options)
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": INPUT,
        "placeholder": _plain("Choose a conversation"),
        "option_groups": option_groups,
    }
    chosen = next((o for o in flat if initial is not None and o["value"] == str(initial)), None)
    if chosen is not None:
        element["initial_option"] = chosen
    blocks = [
        _context(f"Forwarding a message from {source}. Check it: this is what the customer gets."),
        {
            "type": "input",
            "block_id": CONVERSATION,
            "label": _plain("To", limits.INPUT_LABEL),
            "element": element,
        },
        text_input(TEXT, "Message", initial=text, multiline=True),
    ]
    return _modal(FORWARD_VIEW, "Send to WhatsApp", blocks, meta, "Send")


def attributes_modal(meta: str) -> dict[str, Any]:
    """Bulk contact attributes from a CSV file (or pasted CSV text)."""
    blocks = [
        _section(
            "Each row sets attributes on one Wati contact. The first row names the columns: "
            "`phone,attr1,attr2…`. An empty cell leaves that attribute as it is."
        ),
        _file_input(CSV, "CSV file", "A .csv file shared from your computer."),
        text_input(
            TEXT, "…or paste the CSV", optional=True, multiline=True, placeholder="phone,city"
        ),
    ]
    return _modal(ATTRIBUTES_VIEW, "Contact attributes", blocks, meta, "Update")
