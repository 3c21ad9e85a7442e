"""`Sandbox`: a stateful local Wati on loopback, and `serve()` for `wati-bridge sandbox`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from ..loopback import Serving
from . import customers, shapes
from .api import WatiApi
from .base import store_media
from .faults import Faults, RateLimiter
from .server import SandboxServer
from .state import State
from .webhooks import Webhooks


class Sandbox:
    """A local Wati: the v1 HTTP API for the bridge, plus the customer's side in Python.

    State lives in the SQLite file `db_path`, so it survives a restart. Time comes from
    `clock` (epoch seconds) or, without one, from `time.time()` plus whatever `advance()`
    added. After a send, the message is DELIVERED `status_delays[0]` seconds later and READ
    `status_delays[1]` seconds after the send.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        token: str = "sandbox-token",
        tenant_id: str = "100001",
        host: str = "127.0.0.1",
        port: int = 0,
        channels: Sequence[str] = ("15550000001", "15550000002"),
        clock: Callable[[], float] | None = None,
        status_delays: tuple[float, float] = (2.0, 4.0),
    ) -> None:
        self.channels = [shapes.normalise(c) for c in channels]
        if not self.channels or not all(shapes.valid_number(c) for c in self.channels):
            raise ValueError("channels must be one or more numbers of 7 to 15 digits")
        self.db_path = Path(db_path)
        self.token = token
        self.tenant_id = tenant_id
        self.host = host
        self.port = port
        self.status_delays = status_delays
        self.monthly_quota = 10_000
        self.faults = Faults()
        self.limiter = RateLimiter(self.now)
        self.stopping = threading.Event()
        self._clock = clock
        self._offset = 0.0
        self.webhooks = Webhooks(lambda: self.state, self.now, tenant_id)
        self.webhooks.file_url = self.show_file_url
        self._server: SandboxServer | None = None
        self._serving: Serving | None = None
        self._open()

    def _open(self) -> None:
        self.state = State(
            self.db_path, now=self.now, tenant_id=self.tenant_id, status_delays=self.status_delays
        )
        previous = getattr(self, "api", None)
        self.api = WatiApi(self.state, self.channels, webhooks=self.webhooks)
        if previous is not None:  # what a test set survives a restart
            self.api.spam_limit = previous.spam_limit
            self.api.not_on_whatsapp = previous.not_on_whatsapp
            self.api.v3_conversations = previous.v3_conversations
            self.api.interactive = previous.interactive
        self.state.on_insert = self.webhooks.inserted
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve in a daemon thread. A restarted sandbox keeps its port."""
        if self._server is not None:
            return self
        if self._closed:
            self._open()
        self.stopping.clear()
        self._server = SandboxServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._serving = Serving(self._server, f"wati-sandbox-{self.port}", poll_interval=0.05)
        self.webhooks.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the database (start() opens it again)."""
        self.stopping.set()
        self.webhooks.stop()
        if self._serving is not None:
            self._serving.stop()
            self._serving = None
        self._server = None
        if not self._closed:
            self.state.close()
            self._closed = True

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def api_endpoint(self) -> str:
        """What WATI_API_ENDPOINT should be."""
        return f"{self.url}/{self.tenant_id}"

    def show_file_url(self, data_path: str) -> str:
        """The URL a webhook body gives for a stored file (it answers 401 often, live)."""
        return f"{self.api_endpoint}/api/file/showFile?{urlencode({'fileName': data_path})}"

    # -- the clock --------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() if self._clock is not None else time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (only when no external clock was given)."""
        if self._clock is not None:
            raise RuntimeError("the sandbox was given a clock: move that clock instead")
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    # -- the customer's side and the operator's ---------------------------------------------

    def _channel(self, channel: str) -> str:
        number = shapes.normalise(str(channel))
        if number not in self.channels:
            raise ValueError(f"unknown channel number {channel!r}: use one of {self.channels}")
        return number

    def _customer(self, customer: str) -> str:
        """The customer key: a known customer's phone, BSUID or contact id, else a new
        phone number (7 to 15 digits) or BSUID."""
        found = self.state.resolve(str(customer))
        if found is not None:
            return found
        text = str(customer).strip()
        if customers.is_bsuid(text):
            return text
        number = shapes.normalise(text)
        if not shapes.valid_number(number):
            raise ValueError(f"bad customer {customer!r}: 7 to 15 digits or a BSUID")
        return number

    def phoneless(self, username: str, *, name: str | None = None, bsuid: str | None = None) -> str:
        """A customer who hides their number behind a WhatsApp username; returns the BSUID
        (the key every helper then takes for them)."""
        key = bsuid or customers.bsuid_of(f"username:{username}")
        if not customers.is_bsuid(key):
            raise ValueError(f"bad BSUID {key!r}: letters, a dot, digits")
        self.state.ensure_contact(key, name, username=username)
        return key

    def reveal_phone(self, customer: str, phone: str) -> None:
        """A phoneless customer's number becomes visible to the business (its key stays)."""
        number = shapes.normalise(phone)
        if not shapes.valid_number(number):
            raise ValueError("bad phone number: 7 to 15 digits")
        self.state.reveal_phone(self._customer(customer), number)

    def customer_says(
        self,
        channel: str,
        customer: str,
        text: str = "",
        *,
        name: str | None = None,
        type: str = "text",
        data: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """The customer writes to `channel`; returns the Wati message id. Opens the window."""
        return self.state.customer_says(
            self._channel(channel),
            self._customer(customer),
            text,
            name=name,
            type=type,
            data=data,
            extra=extra,
        )

    def customer_taps(self, channel: str, customer: str, text: str) -> str:
        """The customer taps a reply button: a text message with only the button's text."""
        return self.customer_says(
            channel, customer, text, extra={"interactiveButtonReply": {"title": text}}
        )

    def add_media(self, path: str, content: bytes, content_type: str) -> str:
        """Store a file for getMedia. `path` is a file name (its extension is kept) or an
        exact `data/...` path; returns the data path, e.g. `data/images/<uuid>.jpg`."""
        if path.startswith("data/"):
            self.state.put_media(path, content, content_type)
            return path
        return store_media(self.state, path.rsplit("/", 1)[-1], content, content_type)

    def customer_sends_file(
        self,
        channel: str,
        customer: str,
        filename: str,
        content: bytes,
        content_type: str,
        *,
        caption: str = "",
        name: str | None = None,
        kind: str | None = None,
    ) -> tuple[str, str]:
        """A photo, voice note or document from the customer; returns (message id, data path).
        `kind` overrides the type read from the content type (``voice``, ``sticker``)."""
        channel, customer = self._channel(channel), self._customer(customer)
        data = self.add_media(filename, content, content_type)
        kind = kind or shapes.media_kind(content_type)
        # Live tenants put a document's own file name in `text`; an image's or video's
        # `text` is its caption (wati-recorded.md §6.2).
        text = filename.rsplit("/", 1)[-1] if kind == "document" else caption
        return self.customer_says(channel, customer, text, name=name, type=kind, data=data), data

    def expire_media(self, message_or_path: str) -> None:
        """Wati no longer holds this file (a message id or a data path): downloads answer
        HTTP 400 ``{"code": 5004, "message": "Message Not Found"}``."""
        row = self.state.message(message_or_path)
        self.state.expire_media(str(row["data"]) if row is not None else message_or_path)

    def operator_says(self, channel: str, customer: str, text: str) -> str:
        """A teammate typing in Wati's own inbox: owner true, not via the API."""
        return self.state.operator_says(self._channel(channel), self._customer(customer), text)

    def customer_reacts(
        self, channel: str, customer: str, emoji: str, to: str | None = None
    ) -> str:
        """The customer reacts to message `to` (a Wati id; the newest by default).

        As recorded: `type: "reaction"`, `text: null`, the emoji in `reactionMessage.text` and
        the WhatsApp id of the message reacted to in `reactionMessage.key.id`.
        """
        channel, customer = self._channel(channel), self._customer(customer)
        rows, _ = self.state.history(channel, customer, newest_first=True)
        chat = [r for r in rows if r["event_type"] != "ticket"]
        target = next((r for r in chat if to in (None, r["id"])), None)
        if target is None:
            raise ValueError("there is no message to react to")
        key = target["whatsapp_message_id"] or f"wamid.{target['id']}"
        reaction = {"reactionMessage": {"text": emoji, "key": {"id": key}}}
        return self.state.customer_says(
            channel, customer, None, name=None, type="reaction", data=None, extra=reaction
        )

    def close_chat(self, channel: str, customer: str, *, by: str = "Bot") -> None:
        """Wati's chatbot (or a teammate in Wati, `by`) closes the chat: solved, even inside
        the 24 hours, so session sends get "Ticket has been expired." until it is reopened."""
        channel, customer = self._channel(channel), self._customer(customer)
        if not self.state.set_status(channel, customer, "SOLVED", by=by):
            raise KeyError(f"no conversation between {channel} and {customer}")

    def not_on_whatsapp(self, *numbers: str) -> None:
        """These numbers have no WhatsApp account: template sends to them are refused (the
        bulk answer lists them under `errors.invalidWhatsappNumbers`)."""
        self.api.not_on_whatsapp.update(shapes.normalise(n) for n in numbers)

    def add_operator(self, email: str, name: str) -> None:
        """An operator of the account (assignOperator accepts only these e-mails)."""
        self.api.operators.put(email, name)

    def assignee(self, channel: str, customer: str) -> str | None:
        """The e-mail the chat is assigned to (None: the bot, or never assigned)."""
        return self.api.operators.assignee(shapes.normalise(channel), self._customer(customer))

    @property
    def spam_limit(self) -> int:
        """Session sends per number a minute before the spam-limit refusal."""
        return self.api.spam_limit

    @spam_limit.setter
    def spam_limit(self, value: int) -> None:
        self.api.spam_limit = value

    # -- looking at the state ---------------------------------------------------------------

    def messages(self, channel: str, customer: str) -> list[dict[str, Any]]:
        """The conversation, oldest first, as getMessages items."""
        rows, _ = self.state.history(self._channel(channel), self._customer(customer))
        return [self.state.item_json(row) for row in rows]

    def sent_by_api(self, channel: str | None = None) -> list[dict[str, Any]]:
        """What the API sent (session texts, files, templates), oldest first."""
        rows = self.state.api_rows(None if channel is None else self._channel(channel))
        return [
            {
                "id": row["id"],
                "channel": row["channel"],
                "customer": row["customer"],
                "eventType": row["event_type"],
                "type": row["type"],
                "text": row["text"],
                "data": row["data"],
                "status": self.state.status_of(row),
                "created": shapes.iso(row["created"]),
                "localMessageId": row["local_message_id"],
                "templateName": row["template_name"],
                "broadcastName": row["broadcast_name"],
                "voiceFlag": bool(json.loads(row["extra"] or "{}").get("voiceFlag")),
            }
            for row in rows
        ]

    def chat_status(self, channel: str, customer: str) -> str:
        """OPEN / SOLVED / PENDING / BLOCK; KeyError when there is no conversation."""
        row = self.state.conversation(self._channel(channel), self._customer(customer))
        if row is None:
            raise KeyError(f"no conversation between {channel} and {customer}")
        return str(row["status"])

    def contact(self, number: str) -> dict[str, Any] | None:
        key = self.state.resolve(number)
        row = None if key is None else self.state.contact_row(key)
        return None if row is None else self.state.contact_json(row)

    def add_template(
        self,
        name: str,
        body: str,
        *,
        status: str = "APPROVED",
        category: str = "UTILITY",
        params: Sequence[str] | None = None,
    ) -> None:
        """Add or replace a template; params default to the `{{name}}`s in the body."""
        self.state.put_template(name, body, status=status, category=category, params=params)

    def calls(self, endpoint: str | None = None) -> int:
        """API calls counted this month (sandbox clock), for one endpoint or in total."""
        return self.state.calls(endpoint)

    def window_open(self, channel: str, customer: str) -> bool:
        """Whether a session message to `customer` from `channel` would go through now."""
        row = self.state.conversation(self._channel(channel), self._customer(customer))
        return self.state.window_open(row)

    def overview(self) -> dict[str, Any]:
        """For the phone page: channels, known customers (most recent first), the clock."""
        chats: dict[str, list[str]] = {}
        for conv in self.state.conversations():
            chats.setdefault(conv["customer"], []).append(conv["channel"])
        customers = [
            {"number": row["wa_id"], "name": row["name"], "channels": chats.get(row["wa_id"], [])}
            for row in self.state.contact_rows()
        ]
        return {
            "tenantId": self.tenant_id,
            "channels": self.channels,
            "customers": customers,
            "now": shapes.iso(self.now()),
        }

    def conversation(self, channel: str, customer: str) -> dict[str, Any]:
        """For the phone page: one chat with its status and the 24-hour window."""
        channel, customer = self._channel(channel), self._customer(customer)
        conv = self.state.conversation(channel, customer)
        contact = self.state.contact_row(customer)
        window_left = 0.0
        if conv is not None and conv["last_inbound"] is not None:
            window_left = max(0.0, conv["last_inbound"] + shapes.DAY - self.now())
        return {
            "channel": channel,
            "customer": customer,
            "name": contact["name"] if contact is not None else None,
            "status": conv["status"] if conv is not None else None,
            "windowOpen": self.state.window_open(conv),
            "windowSecondsLeft": int(window_left),
            "messages": self.messages(channel, customer),
        }


def serve(db_path: str, *, host: str, port: int, token: str, channels: Sequence[str]) -> None:
    """Run a sandbox until Ctrl-C, printing what the bridge needs to reach it."""
    sandbox = Sandbox(db_path, token=token, host=host, port=port, channels=channels).start()
    print("Wati sandbox running (Ctrl-C to stop)")
    print(f"  WATI_API_ENDPOINT={sandbox.api_endpoint}")
    print(f"  WATI_ACCESS_TOKEN={sandbox.token}")
    print(f"  phone page:       {sandbox.url}/")
    print(f"  channel numbers:  {', '.join(sandbox.channels)}")
    print(f"  state:            {sandbox.db_path}")
    try:
        while not sandbox.stopping.wait(3600):
            pass
    except KeyboardInterrupt:
        print("stopping")
    finally:
        sandbox.stop()
