"""Who owns each conversation: **Assign to me**, `/wati assign` / `/wati unassign`, and the
first-responder rule (BRIDGE_ASSIGN_ON_REPLY).

The owner is kept by the bridge (the thread parent shows it) and, when Wati knows the person,
in Wati too: the chat is assigned to the operator whose e-mail is the Slack user's
(`assignOperator`). Someone Wati does not know as an operator still owns the conversation in
Slack; the person assigning is told so.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.conversations import Conversation
from bot.chatops.errors import ChatOpsError, explain
from bot.relay.threads import Threads
from bot.slack.poster import SlackPoster
from bot.slack.reader import SlackNames
from bot.store import Store
from bot.store.db import iso
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError, WatiRejected

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InWati:
    """What Wati made of an assignment: taken or not, and why not in plain words."""

    taken: bool
    why_not: str = ""


class Owners:
    """Assigns conversations to teammates, in the bridge and in Wati."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        threads: Threads,
        poster: SlackPoster,
        names: SlackNames,
        clock: Clock,
        assign_on_reply: bool = False,
    ) -> None:
        self.store = store
        self.wati = wati
        self.threads = threads
        self.poster = poster
        self.names = names
        self.clock = clock
        self.assign_on_reply = assign_on_reply
        self._lock = threading.Lock()  # one assignment at a time: Wati and the store agree

    def assign(self, conv: Conversation, owner_id: str, by: str) -> str:
        """Make `owner_id` the conversation's owner; return what to tell `by`."""
        if conv.thread.state != "open":
            raise ChatOpsError("This conversation is resolved; reopen it before assigning it.")
        chat = conv.chat
        with self._lock:
            before = self.store.desk_chat(chat.channel_number, chat.customer_number).owner_id
            if before == owner_id:
                who = "You already own" if owner_id == by else f"<@{owner_id}> already owns"
                return f"{who} this conversation; nothing changed."
            in_wati = self._tell_wati(conv, owner_id)
            self.store.set_owner(
                chat.channel_number,
                chat.customer_number,
                owner_id,
                in_wati=in_wati.taken,
                by=by,
                at=iso(self.clock.now()),
            )
        logger.info("thread %d assigned (in Wati: %s)", conv.thread.id, in_wati.taken)
        self.threads.redraw(conv.thread, chat)
        if owner_id != by:
            self._note(
                conv, f":bust_in_silhouette: <@{by}> assigned this conversation to <@{owner_id}>."
            )
        whom = "you" if owner_id == by else f"<@{owner_id}>"
        said = f"This conversation is now assigned to {whom}"
        if before and before != owner_id:
            said += f" (it was <@{before}>'s)"
        if in_wati.taken:
            return said + ", in Slack and in Wati."
        return f"{said} in Slack only: {in_wati.why_not}."

    def unassign(self, conv: Conversation, by: str) -> str:
        """Leave the conversation without an owner (and give the chat back to Wati's bot)."""
        chat = conv.chat
        with self._lock:
            desk = self.store.desk_chat(chat.channel_number, chat.customer_number)
            if desk.owner_id is None:
                return "Nobody owns this conversation; nothing changed."
            why_not = ""
            if desk.owner_in_wati:
                try:
                    self.wati.assign_operator(
                        chat.customer_number, None, channel_number=chat.channel_number
                    )
                except WatiError as exc:
                    why_not = f" Wati was not changed: {explain(exc)}."
            self.store.set_owner(
                chat.channel_number,
                chat.customer_number,
                None,
                in_wati=False,
                by=by,
                at=iso(self.clock.now()),
            )
        logger.info("thread %d unassigned", conv.thread.id)
        self.threads.redraw(conv.thread, chat)
        return f"<@{desk.owner_id}> no longer owns this conversation.{why_not}"

    def claim_reply(self, reply_id: int) -> bool:
        """The first-responder rule for a reply just queued from a thread."""
        reply = self.store.reply(reply_id) if self.assign_on_reply else None
        return reply is not None and self.claim_on_reply(reply.thread_id, reply.user_id)

    def claim_on_reply(self, thread_id: int, user_id: str) -> bool:
        """The first-responder rule: the first teammate to reply in an unowned open thread owns
        it. True when this reply made `user_id` the owner."""
        if not self.assign_on_reply:
            return False
        thread = self.store.thread(thread_id)
        chat = self.store.chat(thread.channel_number, thread.customer_number) if thread else None
        if thread is None or chat is None or thread.state != "open":
            return False
        link = self.store.link_for_channel(thread.slack_channel_id)
        if link is None or link.channel_number != thread.channel_number:
            return False
        at = iso(self.clock.now())
        if not self.store.claim_unowned(chat.channel_number, chat.customer_number, user_id, at):
            return False
        with self._lock:
            in_wati = self._tell_wati(Conversation(link, thread, chat), user_id)
            self.store.note_owner_in_wati(chat.channel_number, chat.customer_number, in_wati.taken)
        logger.info("thread %d owned by its first responder", thread.id)
        self.threads.redraw(thread, chat)
        return True

    def _tell_wati(self, conv: Conversation, owner_id: str) -> InWati:
        """Assign the chat in Wati to the operator with the owner's Slack e-mail."""
        email = self.names.email(owner_id)
        if email is None:
            return InWati(False, f"Slack shows no e-mail address for <@{owner_id}>")
        try:
            self.wati.assign_operator(
                conv.chat.customer_number, email, channel_number=conv.chat.channel_number
            )
        except WatiRejected as exc:
            # Wati's words for it vary ("Operator not found"); what matters is that Wati has
            # no operator with this e-mail, or will not give them this chat.
            return InWati(
                False,
                f"<@{owner_id}> is not a Wati operator with the e-mail {email} "
                f"(Wati said: {exc.reason})",
            )
        except WatiError as exc:
            return InWati(False, f"Wati was not updated: {explain(exc)}")
        return InWati(True)

    def _note(self, conv: Conversation, text: str) -> None:
        if not conv.thread.thread_ts:
            return
        try:
            self.poster.post(conv.link.slack_channel_id, thread_ts=conv.thread.thread_ts, text=text)
        except SlackApiError as exc:  # the assignment stands; the note is only news
            logger.warning("assignment note not posted: %s", exc.response.get("error"))
