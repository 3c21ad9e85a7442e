"""What the chat-op listeners share on the Slack side: telling a user, opening and redrawing the
modals (with what the bridge core knows), channel membership and reading a shared CSV file."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.conversations import label
from bot.chatops.errors import ChatOpsError
from bot.chatops.recipients import decode
from bot.chatops.services import Services
from bot.slack import modals
from bot.slack.reader import DownloadRefused, download_file
from bot.store.chats import Chat
from bot.store.links import Link
from bot.text import phone
from bot.text.formatting import escape, slack_to_whatsapp

logger = logging.getLogger(__name__)

MAX_CSV_BYTES = 5 * 1024 * 1024
MEMBER_PAGES = 10


def tell(
    client: WebClient, channel: str, user: str, text: str, *, thread_ts: str | None = None
) -> bool:
    """An ephemeral message to one user in a channel (or thread); False when Slack refused it."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        return True
    except SlackApiError as exc:
        logger.warning("ephemeral in %s not posted: %s", channel, exc.response.get("error"))
        return False


def is_member(client: WebClient, channel: str, user: str) -> bool:
    """Whether the user is in the channel (a conversation is only acted on by its channel)."""
    try:
        # Iterating a SlackResponse follows the cursor; MEMBER_PAGES bounds a huge channel.
        pages = client.conversations_members(channel=channel, limit=1000)
        return any(
            user in (page.get("members") or []) for page in itertools.islice(pages, MEMBER_PAGES)
        )
    except SlackApiError as exc:
        logger.warning("members of %s not listed: %s", channel, exc.response.get("error"))
        return False


def read_csv_file(client: WebClient, file: Mapping[str, Any]) -> str:
    """The text of a CSV file shared in Slack (downloaded with the bot token, never a login page)."""
    url = file.get("url_private_download") or file.get("url_private")
    if not url and file.get("id"):
        try:
            info = client.files_info(file=str(file["id"])).get("file") or {}
        except SlackApiError as exc:
            raise ChatOpsError(
                f"Slack did not share the file with the bridge (`{exc.response.get('error')}`)."
            ) from exc
        url = info.get("url_private_download") or info.get("url_private")
    if not url or not client.token:
        raise ChatOpsError("Slack gave no download link for that file.")
    try:
        content, _ = download_file(
            str(url),
            client.token,
            api_host=urlsplit(client.base_url).hostname,
            limit=MAX_CSV_BYTES,
        )
    except DownloadRefused as exc:
        raise ChatOpsError(f"The CSV file could not be read: {exc.reason}.") from exc
    return decode(content)


def channel_label(services: Services, link: Link) -> str:
    """“+1 555-000-0001 · #support”."""
    name = services.names.channel(link.slack_channel_id) or link.slack_channel_id
    return f"{phone.display(link.channel_number)} · #{name}"


# -- opening ---------------------------------------------------------------------------


def open_loading(client: WebClient, trigger_id: str, title: str) -> dict[str, Any] | None:
    """Open a “Loading…” modal at once (the trigger lasts 3 s); the view, or None."""
    try:
        view = client.views_open(trigger_id=trigger_id, view=modals.loading(title)).get("view")
    except SlackApiError as exc:
        logger.warning("modal not opened: %s", exc.response.get("error"))
        return None
    return view if isinstance(view, dict) else None


def show(client: WebClient, view: Mapping[str, Any], content: dict[str, Any]) -> None:
    """Replace an open modal's content (a stale hash means the user moved on: leave it)."""
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=content)
    except SlackApiError as exc:
        logger.warning("modal not updated: %s", exc.response.get("error"))


def open_template(
    services: Services,
    client: WebClient,
    trigger_id: str,
    callback_id: str,
    meta: dict[str, Any],
    *,
    selected: str | None = None,
    title: str = "Send template",
) -> None:
    """Open a template modal (send in a thread, to a number, new chat or broadcast)."""
    view = open_loading(client, trigger_id, title)
    if view is None:
        return
    try:
        content = template_view(services, callback_id, meta, selected, {})
    except ChatOpsError as exc:
        content = modals.notice(title, exc.message)
    show(client, view, content)


def open_contact(
    services: Services,
    client: WebClient,
    trigger_id: str,
    *,
    channel: str,
    number: str,
    thread: int | None,
    name: str | None,
) -> None:
    """Open a contact's card to edit its attributes, or to add it when Wati has none."""
    view = open_loading(client, trigger_id, "Contact")
    if view is None:
        return
    try:
        contact = services.contacts.find_contact(number)
    except ChatOpsError as exc:
        show(client, view, modals.notice("Contact", exc.message))
        return
    attributes = dict(contact.custom_params) if contact else None
    meta = modals.dump_meta(
        "contact",
        channel=channel,
        number=number,
        thread=thread,
        mode="edit" if contact else "add",
    )
    content = modals.contact_modal(
        meta=meta,
        number_label=phone.display(number),
        name=(contact.name if contact else None) or name,
        attributes=attributes,
    )
    show(client, view, content)


# -- the template modals, drawn again when a template is chosen ---------------------------


def template_view(
    services: Services,
    callback_id: str,
    meta: dict[str, Any],
    selected: str | None,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """One of the template modals, with `selected`'s parameters and what was typed so far."""
    templates = services.templates.approved()
    chosen = next((t for t in templates if t.name == selected), None)
    prefill = {}
    if chosen is not None:
        prefill = {
            p: str(values[modals.PARAM + p]) for p in chosen.params if values.get(modals.PARAM + p)
        }
    text = modals.dump_meta(**meta)
    if callback_id == modals.NEW_CHAT_VIEW:
        intro = (
            "WhatsApp lets a business write first only with an approved template. The "
            "conversation opens as a thread in the chosen number's channel."
        )
        return modals.template_modal(
            callback_id=callback_id,
            title="New WhatsApp chat",
            meta=text,
            intro=intro,
            templates=templates,
            selected=chosen,
            prefill=prefill,
            head=_new_chat_head(services, values),
        )
    link = services.conversations.linked(str(meta.get("channel")))
    via = phone.display(link.channel_number)
    if callback_id == modals.BROADCAST_VIEW:
        intro = (
            f"Broadcast from {via}. Values typed here go to everyone; CSV columns named "
            "after a parameter override them per recipient."
        )
        return modals.template_modal(
            callback_id=callback_id,
            title="Broadcast",
            meta=text,
            intro=intro,
            templates=templates,
            selected=chosen,
            prefill=prefill,
            tail=modals.broadcast_tail(),
            params_optional=True,
        )
    chat: Chat | None
    if meta.get("thread") is not None:
        chat = services.conversations.conversation(meta["thread"], link.slack_channel_id).chat
    else:
        chat = services.conversations.chat(link, str(meta.get("number")))
    who = label(chat) if chat else phone.display(str(meta.get("number")))
    if chosen is not None and "name" in chosen.params and "name" not in prefill:
        if chat and chat.customer_name:
            prefill["name"] = chat.customer_name
    intro = f"To *{escape(who)}* from {via}."
    return modals.template_modal(
        callback_id=callback_id,
        title="Send template",
        meta=text,
        intro=intro,
        templates=templates,
        selected=chosen,
        prefill=prefill,
    )


def _new_chat_head(services: Services, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The new-chat form's first fields: which linked number, and the customer's number."""
    links = [
        (link.channel_number, channel_label(services, link))
        for link in services.conversations.links()
    ]
    initial = values.get(modals.LINKED) or (links[0][0] if len(links) == 1 else None)
    return [
        modals.linked_select(links, initial),
        modals.text_input(
            modals.NUMBER,
            "Customer's WhatsApp number",
            initial=values.get(modals.NUMBER),
            placeholder="+44 7700 900123",
        ),
    ]


# -- forwarding ------------------------------------------------------------------------


def forward_view(services: Services, channel: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The forward modal for a Slack message; ChatOpsError says why there is nothing to do."""
    text = slack_to_whatsapp(
        str(message.get("text") or ""),
        resolve_user=services.names.user,
        resolve_channel=services.names.channel,
    ).strip()
    if not text:
        raise ChatOpsError(
            "That message has no text to forward (files are not forwarded: share them in "
            "the customer's thread)."
        )
    if len(text) > modals.MAX_INPUT:
        raise ChatOpsError(
            "That message is too long to forward (over 3,000 characters); reply in the "
            "customer's thread instead."
        )
    conversations = services.conversations.open_conversations(first_channel=channel)
    if not conversations:
        raise ChatOpsError(
            "There is no open WhatsApp conversation to forward to. Conversations appear when "
            "customers write; start one with the *New WhatsApp chat* shortcut."
        )
    groups: dict[str, list[tuple[int, str]]] = {}
    for conv in conversations:
        entry = (conv.thread.id, label(conv.chat))
        groups.setdefault(channel_label(services, conv.link), []).append(entry)
    initial = None
    if message.get("thread_ts"):
        here = services.conversations.thread_at(channel, str(message["thread_ts"]))
        initial = here.id if here else None
    source = f"<#{channel}>"
    if message.get("files"):
        source += " (attachments are not forwarded)"
    return modals.forward_modal(
        meta=modals.dump_meta("forward", channel=channel, ts=str(message.get("ts") or "")),
        source=source,
        groups=list(groups.items()),
        initial=initial,
        text=text,
    )
