"""The shared transport under every Wati call family: one httpx.Client, the bearer token, the
on_call/on_error/on_answer callbacks, and turning a transport failure or an HTTP status into
the error tree of `bot.wati.errors`.

The call families (`messages`, `sending`, `templates`, `contacts`, `account`) subclass
`Transport`; `bot.wati.client.WatiClient` is all of them over one instance of it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

import httpx

from bot.base import calls
from bot.wati.errors import (
    WatiError,
    WatiUnavailable,
    check_accepted,
    error_kind,
    json_object,
    raise_for_status,
)

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s+\-().]")
_PHONE_LIKE = re.compile(r"^[\d\s+\-().]+$")
# A BSUID (`US.13491208655302741918`) or a Wati contact id (24 hex characters).
_CUSTOMER_ID = re.compile(r"^(?:[A-Za-z]{2}\.\d{4,40}|[0-9a-fA-F]{24})$")
_BEARER = re.compile(r"^\s*bearer(\s+|$)", re.IGNORECASE)

Params = dict[str, str | int]
P = ParamSpec("P")
R = TypeVar("R")


def observed(method: Callable[P, R]) -> Callable[P, R]:
    """Report a public call's WatiError (by endpoint and kind) to `on_error`, then re-raise.

    The failure may come from the HTTP status or from the body read after it, so the report
    is made here, around the whole method, rather than in `Transport._call`.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except WatiError as exc:
            client = args[0]
            assert isinstance(client, Transport)
            if client._on_error is not None:
                client._on_error(exc.endpoint or method.__name__, error_kind(exc))
            raise

    return wrapper


class Transport:
    """The HTTP side of every Wati call; thread-safe, like the httpx.Client it wraps."""

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
        on_call: Callable[[str], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        on_answer: Callable[[str, WatiError | None, int], None] | None = None,
        on_sent: Callable[[str, str, int], None] | None = None,
    ) -> None:
        base = endpoint.strip().rstrip("/")
        found = origin(base) if base.startswith(("https://", "http://")) else None
        if found is None:
            raise ValueError("the Wati API endpoint must be an http(s) URL with a host")
        token = _normalise_token(token)
        if not token:
            raise ValueError("the Wati access token is empty")
        self._base = base
        self._origin = found
        self._on_call = on_call
        self._on_error = on_error
        self._on_answer = on_answer  # told how each call ended (health watches for 401/403)
        # Told (channel number, "session" or "template", how many) when Wati accepted messages:
        # what WhatsApp charges for, counted at the one place every send passes.
        self._on_sent = on_sent
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

    # -- for the call families -----------------------------------------------------------------

    def _url(self, path: str) -> str:
        """A v1 route on the tenant's endpoint."""
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
        optional: bool = False,
    ) -> httpx.Response:
        """One request: counted, sent, and its status read (a WatiError unless 2xx).

        `optional`: a feature some plans lack, so a 403 or 404 says nothing about the token.
        """
        if self._on_call is not None:
            self._on_call(name)
        number = calls.next_number()
        try:
            response = self._http.request(method, url, params=params, json=json_body, files=files)
        except httpx.TransportError as exc:
            error = _unavailable(name, exc, write)
            self._answered(name, error, number)  # no answer is an answer too (health: Wati down)
            raise error from exc
        logger.debug("wati %s -> HTTP %d", name, response.status_code)
        try:
            raise_for_status(name, response, write=write, session=session)
        except WatiError as exc:
            if not (optional and exc.status_code in (403, 404)):
                self._answered(name, exc, number)
            raise
        self._answered(name, None, number)
        return response

    def _sent(self, channel_number: str, kind: str, count: int = 1) -> None:
        if self._on_sent is not None and count:
            self._on_sent(channel_number, kind, count)

    def _answered(self, name: str, error: WatiError | None, number: int) -> None:
        if self._on_answer is not None:
            self._on_answer(name, error, number)


# -- helpers the families share ----------------------------------------------------------------


def json_or_none(response: httpx.Response) -> object:
    """The body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def page_params(page_size: int, page_number: int) -> Params:
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if page_number < 0:
        raise ValueError("page_number must not be negative")
    return {"pageSize": page_size, "pageNumber": page_number}


def phone_digits(value: str, what: str) -> str:
    """A phone number as digits only, with the country code (the form Wati expects)."""
    digits = _SEPARATORS.sub("", value)
    if not digits or not (digits.isascii() and digits.isdigit()) or len(digits) > 15:
        # The number itself is left out: phone numbers are personal data and may reach logs.
        raise ValueError(f"{what} is not a phone number (digits with country code)")
    return digits


def customer_ref(value: str) -> str:
    """Who a v1 call is about: a phone number (as digits), or a BSUID or Wati contact id as
    given (Wati's path parameters accept all three, docs/WATI.md#bsuids-and-usernames). Never the digits
    picked out of some other identifier."""
    text = value.strip()
    if _CUSTOMER_ID.match(text) and not _PHONE_LIKE.match(text):
        return text
    return phone_digits(text, "wa_number")


def phone_digits_or_none(value: object) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        return phone_digits(str(value), "number")
    except ValueError:
        return None


def origin(text: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL, or None when it is not a usable http(s) URL."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        return None
    if url.scheme not in ("https", "http") or not url.host:
        return None
    default = {"https": 443, "http": 80}[url.scheme]
    return (url.scheme, url.host.lower(), url.port or default)


def basename(path: str) -> str:
    """The last segment of a path or URL path; "" for none (or "." / "..")."""
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].strip()
    return "" if name in ("", ".", "..") else name


def _normalise_token(token: str) -> str:
    token = token.strip()
    while _BEARER.match(token):
        token = _BEARER.sub("", token, count=1).strip()
    return token


def _unavailable(name: str, exc: httpx.TransportError, write: bool) -> WatiUnavailable:
    """What a failed connection means for the call, a write's fate included."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        # The request never left this machine, so even a write certainly did not happen.
        return WatiUnavailable(f"could not connect ({kind})", maybe_sent=False, endpoint=name)
    if isinstance(exc, httpx.TimeoutException):
        return WatiUnavailable(f"timed out ({kind})", maybe_sent=write, endpoint=name)
    return WatiUnavailable(f"connection failed ({kind})", maybe_sent=write, endpoint=name)
