"""Wati v1 REST client: one httpx.Client, building requests and reading typed results.

The error tree and the reading of Wati's answers (status, body: success or which error) live in
`bot.wati.errors`; the typed results and their parsers in `bot.wati.types`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import IO, Any, ParamSpec, Self, TypeVar

import httpx

from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiError,
    WatiRejected,
    WatiUnavailable,
    check_accepted,
    error_kind,
    error_text,
    json_object,
    raise_for_status,
)
from bot.wati.media import (
    Endpoints,
    MediaFile,
    MediaRef,
    basename,
    disposition_filename,
    download,
)
from bot.wati.types import (
    AccountNumbers,
    BulkSendResult,
    Contact,
    ContactPage,
    Media,
    MessagePage,
    SendResult,
    Template,
    TemplateSendResult,
    opt_str,
    parse_account_numbers,
    parse_contact,
    parse_message,
    parse_template,
)

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
CHAT_STATUSES = frozenset({"OPEN", "SOLVED", "PENDING", "BLOCK"})

_SEPARATORS = re.compile(r"[\s+\-().]")
_BEARER = re.compile(r"^\s*bearer(\s+|$)", re.IGNORECASE)
_SUCCESS_WORDS = frozenset({"success", "true", "ok"})

Params = dict[str, str | int]
P = ParamSpec("P")
R = TypeVar("R")


def _observed(method: Callable[P, R]) -> Callable[P, R]:
    """Report a public call's WatiError (by endpoint and kind) to `on_error`, then re-raise.

    The failure may come from the HTTP status or from the body read after it, so the report
    is made here, around the whole method, rather than in `_call`.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except WatiError as exc:
            client = args[0]
            assert isinstance(client, WatiClient)
            if client._on_error is not None:
                client._on_error(exc.endpoint or method.__name__, error_kind(exc))
            raise

    return wrapper


class WatiClient:
    """Synchronous client for Wati's v1 API; thread-safe, like the httpx.Client it wraps."""

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
        on_call: Callable[[str], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        on_answer: Callable[[str, WatiError | None], None] | None = None,
    ) -> None:
        base = endpoint.strip().rstrip("/")
        origin = _origin(base) if base.startswith(("https://", "http://")) else None
        if origin is None:
            raise ValueError("the Wati API endpoint must be an http(s) URL with a host")
        token = _normalise_token(token)
        if not token:
            raise ValueError("the Wati access token is empty")
        self._base = base
        self._origin = origin
        self._on_call = on_call
        self._on_error = on_error
        self._on_answer = on_answer  # told how each call ended (health watches for 401/403)
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "User-Agent": "wati-bridge"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    def close(self) -> None:
        """Close the underlying HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------

    @_observed
    def get_messages(
        self, wa_number: str, *, channel_number: str, page_size: int = 50, page_number: int = 1
    ) -> MessagePage:
        """Fetch one page of a contact's history on one channel number, oldest item first."""
        number = _digits(wa_number, "wa_number")
        params: Params = {"channelPhoneNumber": _digits(channel_number, "channel_number")}
        params.update(_page(page_size, page_number))
        name = "getMessages"
        response = self._call(name, "GET", self._url(f"getMessages/{number}"), params=params)
        body = json_object(name, response)
        if body.get("result") is False:
            # Wati's way of saying "no conversation with this number yet".
            logger.debug("getMessages: result false, treated as an empty history")
            return MessagePage([], 0, page_number, page_size, 0)
        messages = body.get("messages")
        items = messages.get("items") if isinstance(messages, dict) else messages
        if not isinstance(items, list):
            raise WatiBadResponse("no messages.items list", status_code=200, endpoint=name)
        parsed = [parse_message(item) for item in items]
        # Wati lists newest first; reversed, a stable sort keeps its order for messages
        # created in the same millisecond (their ids say nothing about order).
        good = sorted((m for m in reversed(parsed) if m is not None), key=lambda m: m.created)
        malformed = len(items) - len(good)
        if malformed:
            logger.warning("getMessages: skipped %d malformed item(s)", malformed)
        return MessagePage(good, malformed, page_number, page_size, len(items))

    @_observed
    def get_message_templates(
        self, *, page_size: int = 100, page_number: int = 1
    ) -> list[Template]:
        """List message templates (all statuses; only APPROVED ones can be sent)."""
        name = "getMessageTemplates"
        response = self._call(
            name, "GET", self._url("getMessageTemplates"), params=_page(page_size, page_number)
        )
        body = json_object(name, response)
        check_accepted(name, body)
        items = body.get("messageTemplates")
        if not isinstance(items, list):
            raise WatiBadResponse("no messageTemplates list", status_code=200, endpoint=name)
        templates = [t for t in (parse_template(item) for item in items) if t is not None]
        if len(templates) < len(items):
            logger.warning(
                "getMessageTemplates: skipped %d malformed item(s)", len(items) - len(templates)
            )
        return templates

    @_observed
    def get_contacts(
        self,
        *,
        page_size: int = 100,
        page_number: int = 1,
        name: str | None = None,
        attribute: list[dict[str, str]] | None = None,
    ) -> ContactPage:
        """Fetch one page of contacts, optionally filtered by name or attribute conditions."""
        params = _page(page_size, page_number)
        if name:
            params["name"] = name
        if attribute is not None:
            params["attribute"] = json.dumps(attribute, separators=(",", ":"))
        endpoint = "getContacts"
        response = self._call(endpoint, "GET", self._url("getContacts"), params=params)
        body = json_object(endpoint, response)
        check_accepted(endpoint, body)
        items = body.get("contact_list")
        if not isinstance(items, list):
            raise WatiBadResponse("no contact_list list", status_code=200, endpoint=endpoint)
        contacts = [c for c in (parse_contact(item) for item in items) if c is not None]
        malformed = len(items) - len(contacts)
        if malformed:
            logger.warning("getContacts: skipped %d malformed item(s)", malformed)
        return ContactPage(contacts, malformed, len(items), page_number, page_size)

    @_observed
    def get_account_numbers(self) -> AccountNumbers:
        """The account's WhatsApp numbers: v2 phoneNumbers, else v3's channel list.

        Neither answer's fields are recorded from live tenants, so both are read defensively.
        v2 lists every number, the default one included; v3 leaves the default one out, so its
        list is marked incomplete. WatiError when neither call gives a list.
        """
        name = "getPhoneNumbers"
        try:
            response = self._call(name, "GET", f"{self._base}/api/v2/whatsapp/phoneNumbers")
            found = parse_account_numbers(_json(response))
            if found is not None:
                return AccountNumbers(found, complete=True, source="v2 phoneNumbers")
            first: WatiError = WatiBadResponse("no list of numbers", status_code=200, endpoint=name)
        except (WatiRejected, WatiAuthError, WatiBadResponse) as exc:
            first = exc  # 404 on tenants without the v2 route, 403 without the permission
        name = "getChannels"
        scheme, host, port = self._origin
        try:
            response = self._call(
                name,
                "GET",
                f"{scheme}://{host}:{port}/api/ext/v3/channels",
                params={"page_number": 1, "page_size": 100},
            )
        except (WatiRejected, WatiAuthError):
            raise first from None  # the first refusal says more than v3's
        found = parse_account_numbers(_json(response))
        if not found:
            # The v3 spec's entries are {id, name, channel}: names without numbers are no use.
            raise WatiBadResponse(
                "the channel list names no phone numbers", status_code=200, endpoint=name
            )
        return AccountNumbers(found, complete=False, source="v3 channels")

    @_observed
    def get_media(self, file_name: str) -> Media:
        """Download a media file by its stored path or its showFile URL on the Wati host."""
        name = "getMedia"
        file_name = file_name.strip()
        params: Params | None = None
        if file_name.startswith(("https://", "http://")):
            if _origin(file_name) != self._origin:
                # Never send the bearer token to another host.
                raise ValueError("the media URL is not on the Wati API host")
            request_url = file_name
            url = httpx.URL(file_name)
            stored_path = url.params.get("fileName") or url.path
        elif file_name:
            request_url = self._url("getMedia")
            params = {"fileName": file_name}
            stored_path = file_name
        else:
            raise ValueError("file_name is empty")
        response = self._call(name, "GET", request_url, params=params)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/json" or content_type.endswith("+json"):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                check_accepted(name, body)
        if not response.content:
            raise WatiBadResponse(
                "empty media file", status_code=response.status_code, endpoint=name
            )
        filename = disposition_filename(response.headers.get("Content-Disposition"))
        return Media(
            content=response.content,
            content_type=content_type or "application/octet-stream",
            filename=filename or basename(stored_path) or "file",
        )

    @_observed
    def download_media(self, ref: MediaRef, into: IO[bytes], *, limit: int) -> MediaFile:
        """Stream a message's file into `into` (see `bot.wati.media`: the fallbacks, expiry,
        error pages); at most `limit` bytes."""
        scheme, host, port = self._origin
        urls = Endpoints(
            get_media=self._url("getMedia"),
            v3_file=f"{scheme}://{host}:{port}/api/ext/v3/conversations/messages/file/",
            same_host=lambda url: _origin(url) == self._origin,
        )
        return download(self._http, ref, into, urls=urls, limit=limit, on_call=self._on_call)

    # -- session sends (inside the 24-hour window) ---------------------------------------------

    @_observed
    def send_session_message(
        self,
        wa_number: str,
        text: str,
        *,
        channel_number: str,
        local_message_id: str | None = None,
    ) -> SendResult:
        """Send free text inside the 24-hour window; success means accepted by Wati."""
        number = _digits(wa_number, "wa_number")
        channel = _digits(channel_number, "channel_number")
        if not text.strip():
            raise ValueError("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"message text is over {MAX_TEXT_LENGTH} characters; split it first")
        # messageText must be in the query (a JSON body gives "message text can not be empty");
        # the channel goes in both places because Wati's pages disagree on which one it reads.
        params: Params = {"messageText": text, "channelPhoneNumber": channel}
        if local_message_id:
            params["localMessageId"] = local_message_id
        name = "sendSessionMessage"
        response = self._call(
            name,
            "POST",
            self._url(f"sendSessionMessage/{number}"),
            params=params,
            json_body={"channelPhoneNumber": channel},
            write=True,
            session=True,
        )
        body = json_object(name, response, write=True)
        check_accepted(name, body, session=True, require_flag=True)
        return _send_result(body, local_message_id)

    @_observed
    def send_session_file(
        self,
        wa_number: str,
        *,
        filename: str,
        content: bytes,
        content_type: str,
        channel_number: str,
        caption: str | None = None,
    ) -> SendResult:
        """Send a file inside the 24-hour window; success means accepted by Wati."""
        number = _digits(wa_number, "wa_number")
        params: Params = {"channelPhoneNumber": _digits(channel_number, "channel_number")}
        if caption:
            params["caption"] = caption
        if not content:
            raise ValueError("the file is empty")
        safe_name = basename(filename) or "file"
        name = "sendSessionFile"
        response = self._call(
            name,
            "POST",
            self._url(f"sendSessionFile/{number}"),
            params=params,
            files={"file": (safe_name, content, content_type or "application/octet-stream")},
            write=True,
            session=True,
        )
        body = json_object(name, response, write=True)
        check_accepted(name, body, session=True, require_flag=True)
        result = _send_result(body, None)
        # One client saw {"result": "<message id>"} from this endpoint.
        flag = body.get("result")
        if result.message_id is None and isinstance(flag, str):
            if flag.strip() and flag.strip().lower() not in _SUCCESS_WORDS:
                return SendResult(flag.strip(), result.whatsapp_message_id, None, result.status)
        return result

    # -- templates (the only way to reach a customer outside the window) ----------------------

    @_observed
    def send_template_message(
        self,
        wa_number: str,
        template_name: str,
        parameters: Mapping[str, str],
        *,
        channel_number: str,
        broadcast_name: str,
    ) -> TemplateSendResult:
        """Send an approved template to one number; success means accepted by Wati."""
        number = _digits(wa_number, "wa_number")
        channel = _digits(channel_number, "channel_number")
        payload = _template_payload(template_name, broadcast_name, channel)
        payload["parameters"] = _template_params(parameters)
        name = "sendTemplateMessage"
        response = self._call(
            name,
            "POST",
            self._url("sendTemplateMessage"),
            params={"whatsappNumber": number},
            json_body=payload,
            write=True,
        )
        body = json_object(name, response, write=True)
        check_accepted(name, body, require_flag=True)
        receivers = body.get("receivers")
        first = receivers[0] if isinstance(receivers, list) and receivers else {}
        first = first if isinstance(first, dict) else {}
        if body.get("validWhatsAppNumber") is False or first.get("isValidWhatsAppNumber") is False:
            raise WatiRejected("not a valid WhatsApp number", status_code=200, endpoint=name)
        return TemplateSendResult(
            ok=True,
            whatsapp_number=_digits_or_none(body.get("phone_number")) or number,
            local_message_id=opt_str(body.get("localMessageId"))
            or opt_str(first.get("localMessageId")),
        )

    @_observed
    def send_template_messages(
        self,
        template_name: str,
        receivers: Sequence[tuple[str, Mapping[str, str]]],
        *,
        channel_number: str,
        broadcast_name: str,
    ) -> BulkSendResult:
        """Send one template to many numbers; accepted means accepted by Wati, per number."""
        channel = _digits(channel_number, "channel_number")
        payload = _template_payload(template_name, broadcast_name, channel)
        if not receivers:
            raise ValueError("no receivers")
        numbers = [_digits(number, "receiver number") for number, _ in receivers]
        payload["receivers"] = [
            {"whatsappNumber": number, "customParams": _template_params(params)}
            for number, (_, params) in zip(numbers, receivers, strict=True)
        ]
        name = "sendTemplateMessages"
        response = self._call(
            name, "POST", self._url("sendTemplateMessages"), json_body=payload, write=True
        )
        body = json_object(name, response, write=True)
        check_accepted(name, body)
        failures = _receiver_failures(body.get("receivers"))
        # Live tenants answer without `receivers`: the refused numbers are under `errors`.
        failures.update(_listed_failures(body.get("errors"), numbers, failures))
        return BulkSendResult(
            accepted=[n for n in numbers if n not in failures],
            failed=[(n, failures[n]) for n in numbers if n in failures],
        )

    # -- chats and contacts --------------------------------------------------------------------

    @_observed
    def update_chat_status(self, wa_number: str, status: str, *, channel_number: str) -> None:
        """Set a chat's status (OPEN, SOLVED, PENDING or BLOCK) on one channel number."""
        ticket_status = status.strip().upper()
        if ticket_status not in CHAT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(CHAT_STATUSES))}")
        payload = {
            "whatsappNumber": _digits(wa_number, "wa_number"),
            "ticketStatus": ticket_status,
            "channelPhoneNumber": _digits(channel_number, "channel_number"),
        }
        self._write("updateChatStatus", self._url("updateChatStatus"), payload)

    @_observed
    def assign_operator(self, wa_number: str, email: str | None, *, channel_number: str) -> None:
        """Assign the chat to the operator with this e-mail (None: back to the bot).

        The parameters go in the query (wati-api.md §3.8). An e-mail that is not one of the
        account's operators is refused with HTTP 200 and `result: false` (WatiRejected).
        """
        params: Params = {
            "whatsappNumber": _digits(wa_number, "wa_number"),
            "channelPhoneNumber": _digits(channel_number, "channel_number"),
        }
        if email is not None:
            params["email"] = email
        name = "assignOperator"
        response = self._call(name, "POST", self._url(name), params=params, write=True)
        check_accepted(name, json_object(name, response, write=True, allow_empty=True))

    @_observed
    def add_contact(
        self, wa_number: str, *, name: str, custom_params: Mapping[str, str] | None = None
    ) -> Contact | None:
        """Create a contact; returns it when Wati's answer includes it."""
        number = _digits(wa_number, "wa_number")
        payload = {"name": name, "customParams": _attributes(custom_params or {})}
        body = self._write("addContact", self._url(f"addContact/{number}"), payload)
        for key in ("contact", "data", "result"):
            contact = parse_contact(body.get(key))
            if contact is not None:
                return contact
        return parse_contact(body) if "wAid" in body else None

    @_observed
    def update_contact_attributes(self, wa_number: str, custom_params: Mapping[str, str]) -> None:
        """Set custom attributes on one contact."""
        number = _digits(wa_number, "wa_number")
        if not custom_params:
            raise ValueError("no attributes to update")
        payload = {"customParams": _attributes(custom_params)}
        self._write(
            "updateContactAttributes", self._url(f"updateContactAttributes/{number}"), payload
        )

    @_observed
    def update_contact_attributes_for_multi_contacts(
        self, contacts: Sequence[tuple[str, Mapping[str, str]]]
    ) -> None:
        """Set custom attributes on several contacts in one call."""
        if not contacts:
            raise ValueError("no contacts to update")
        payload = {
            "contacts": [
                {"whatsappNumber": _digits(number, "wa_number"), "customParams": _attributes(p)}
                for number, p in contacts
            ]
        }
        name = "updateContactAttributesForMultiContacts"
        self._write(name, self._url(name), payload)

    # -- webhooks (a v2 exception: Wati can create them only, never list or delete) ----------

    def register_webhook(
        self, channel_number: str, url: str, event_types: Sequence[str]
    ) -> str | None:
        """Create one enabled webhook for a channel number; return its id when Wati gives one.

        Over the tenant's cap Wati answers HTTP 400 "Number of Webhooks exceed limitation"
        (WatiRejected); plans without webhooks refuse the call another way (see
        bot.webhooks.registration for the words shown to people).
        """
        name = "webhookEndpoints"
        payload = [
            {
                "phoneNumber": _digits(channel_number, "channel_number"),
                "url": url,
                "status": 1,
                "eventTypes": list(event_types),
            }
        ]
        response = self._call(
            name, "POST", f"{self._base}/api/v2/webhookEndpoints", json_body=payload, write=True
        )
        body = json_object(name, response, write=True, allow_empty=True)
        if body.get("ok") is False:
            raise WatiRejected(error_text(body.get("error")) or "refused", endpoint=name)
        result = body.get("result")
        first = result[0] if isinstance(result, list) and result else result
        return opt_str(first.get("id")) if isinstance(first, dict) else None

    # -- plumbing ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._base}/api/v1/{path}"

    def _write(self, name: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON write whose answer is loosely specified; an empty 2xx body is success."""
        response = self._call(name, "POST", url, json_body=payload, write=True)
        body = json_object(name, response, write=True, allow_empty=True)
        check_accepted(name, body)
        return body

    def _call(
        self,
        name: str,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        write: bool = False,
        session: bool = False,
    ) -> httpx.Response:
        if self._on_call is not None:
            self._on_call(name)
        try:
            response = self._http.request(method, url, params=params, json=json_body, files=files)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left this machine, so even a write certainly did not happen.
            raise WatiUnavailable(
                f"could not connect ({type(exc).__name__})", maybe_sent=False, endpoint=name
            ) from exc
        except httpx.TimeoutException as exc:
            raise WatiUnavailable(
                f"timed out ({type(exc).__name__})", maybe_sent=write, endpoint=name
            ) from exc
        except httpx.TransportError as exc:
            raise WatiUnavailable(
                f"connection failed ({type(exc).__name__})", maybe_sent=write, endpoint=name
            ) from exc
        logger.debug("wati %s -> HTTP %d", name, response.status_code)
        try:
            raise_for_status(name, response, write=write, session=session)
        except WatiError as exc:
            self._answered(name, exc)
            raise
        self._answered(name, None)
        return response

    def _answered(self, name: str, error: WatiError | None) -> None:
        if self._on_answer is not None:
            self._on_answer(name, error)


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _send_result(body: dict[str, Any], local_message_id: str | None) -> SendResult:
    message = body.get("message")
    message = message if isinstance(message, dict) else {}
    status = opt_str(message.get("statusString"))
    return SendResult(
        message_id=opt_str(message.get("id")),
        whatsapp_message_id=opt_str(message.get("whatsappMessageId")),
        local_message_id=opt_str(message.get("localMessageId")) or local_message_id,
        status=status.upper() if status else None,
    )


def _receiver_failures(receivers: object) -> dict[str, str]:
    failures: dict[str, str] = {}
    if not isinstance(receivers, list):
        return failures
    for receiver in receivers:
        if not isinstance(receiver, dict):
            continue
        number = _digits_or_none(receiver.get("waId") or receiver.get("whatsappNumber"))
        if number is None:
            continue
        errors = receiver.get("errors")
        reasons = [error_text(e) for e in errors] if isinstance(errors, list) else []
        reason = "; ".join(r for r in reasons if r)
        if receiver.get("isValidWhatsAppNumber") is False:
            failures[number] = reason or "not a valid WhatsApp number"
        elif reason:
            failures[number] = reason
    return failures


# `errors` keys of the v1 bulk answer, and the reason each one means.
_LISTED_ERRORS = (
    ("invalidWhatsappNumbers", "Wati says it is not a valid WhatsApp number"),
    ("invalidCustomParameters", "Wati refused its template parameters"),
)


def _listed_failures(
    errors: object, sent: Sequence[str], known: Mapping[str, str]
) -> dict[str, str]:
    """Per-number failures from `errors`: the recorded dict of lists, or a list of
    `{whatsappNumber, error}`. Numbers are matched to the ones sent by their digits (and by
    their ending when Wati drops or adds a country prefix)."""
    found: dict[str, str] = {}

    def add(raw: object, reason: str) -> None:
        entry = raw if isinstance(raw, dict) else {}
        number = _digits_or_none(
            raw if not isinstance(raw, dict) else entry.get("whatsappNumber") or entry.get("waId")
        )
        detail = error_text(entry.get("error")) if entry else ""
        match = _match_number(number, sent) if number else None
        if match is not None and match not in known and match not in found:
            found[match] = detail or reason

    if isinstance(errors, dict):
        for key, reason in _LISTED_ERRORS:
            listed = errors.get(key)
            for raw in listed if isinstance(listed, list) else []:
                add(raw, reason)
    elif isinstance(errors, list):
        for raw in errors:
            add(raw, "refused by Wati")
    return found


def _match_number(number: str, sent: Sequence[str]) -> str | None:
    if number in sent:
        return number
    close = [n for n in sent if len(number) >= 7 and (n.endswith(number) or number.endswith(n))]
    return close[0] if len(close) == 1 else None


def _template_payload(template_name: str, broadcast_name: str, channel: str) -> dict[str, Any]:
    if not template_name.strip():
        raise ValueError("template_name is empty")
    if not broadcast_name.strip():
        raise ValueError("broadcast_name is empty")
    # Wati's pages spell the channel field both ways; sending both is what the design asks.
    return {
        "template_name": template_name.strip(),
        "broadcast_name": broadcast_name.strip(),
        "channelNumber": channel,
        "channel_number": channel,
    }


def _template_params(parameters: Mapping[str, str]) -> list[dict[str, str]]:
    """Template parameters as [{name, value}]; Wati rejects empty names and values."""
    result = []
    for key, value in parameters.items():
        if not key.strip():
            raise ValueError("a template parameter has an empty name")
        if not value.strip():
            raise ValueError(f"template parameter {key!r} has an empty value")
        result.append({"name": key, "value": value})
    return result


def _attributes(params: Mapping[str, str]) -> list[dict[str, str]]:
    result = []
    for key, value in params.items():
        if not key.strip():
            raise ValueError("a contact attribute has an empty name")
        result.append({"name": key, "value": value})
    return result


def _page(page_size: int, page_number: int) -> Params:
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if page_number < 0:
        raise ValueError("page_number must not be negative")
    return {"pageSize": page_size, "pageNumber": page_number}


def _digits(value: str, what: str) -> str:
    """A phone number as digits only, with the country code (the form Wati expects)."""
    digits = _SEPARATORS.sub("", value)
    if not digits or not (digits.isascii() and digits.isdigit()) or len(digits) > 15:
        # The number itself is left out: phone numbers are personal data and may reach logs.
        raise ValueError(f"{what} is not a phone number (digits with country code)")
    return digits


def _digits_or_none(value: object) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        return _digits(str(value), "number")
    except ValueError:
        return None


def _normalise_token(token: str) -> str:
    token = token.strip()
    while _BEARER.match(token):
        token = _BEARER.sub("", token, count=1).strip()
    return token


def _origin(text: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL, or None when it is not a usable http(s) URL."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        return None
    if url.scheme not in ("https", "http") or not url.host:
        return None
    default = {"https": 443, "http": 80}[url.scheme]
    return (url.scheme, url.host.lower(), url.port or default)
