"""The account: its WhatsApp numbers, and registering webhooks for them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiError,
    WatiRejected,
    error_text,
    json_object,
)
from bot.wati.transport import Transport, json_or_none, observed, phone_digits
from bot.wati.types import AccountNumbers, opt_str, parse_account_numbers


class AccountCalls(Transport):
    """v2 phoneNumbers / v3 channels, and v2 webhookEndpoints."""

    @observed
    def get_account_numbers(self) -> AccountNumbers:
        """The account's WhatsApp numbers: v2 phoneNumbers, else v3's channel list.

        Neither answer's fields are recorded from live tenants, so both are read defensively.
        v2 lists every number, the default one included; v3 leaves the default one out, so its
        list is marked incomplete. WatiError when neither call gives a list.
        """
        name = "getPhoneNumbers"
        try:
            response = self._call(name, "GET", f"{self._base}/api/v2/whatsapp/phoneNumbers")
            found = parse_account_numbers(json_or_none(response))
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
        found = parse_account_numbers(json_or_none(response))
        if not found:
            # The v3 spec's entries are {id, name, channel}: names without numbers are no use.
            raise WatiBadResponse(
                "the channel list names no phone numbers", status_code=200, endpoint=name
            )
        return AccountNumbers(found, complete=False, source="v3 channels")

    # A v2 exception: Wati can create webhooks only, never list or delete them.
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
                "phoneNumber": phone_digits(channel_number, "channel_number"),
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
