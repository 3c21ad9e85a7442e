"""Templates: the list of them, and sending one to a number or to many (the only way to reach
a customer outside the 24-hour window)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.wati.errors import WatiBadResponse, WatiRejected, check_accepted, error_text, json_object
from bot.wati.transport import (
    Params,
    Transport,
    customer_ref,
    observed,
    page_params,
    phone_digits,
    phone_digits_or_none,
)
from bot.wati.types import (
    BulkSendResult,
    Template,
    TemplateSendResult,
    opt_str,
    parse_template,
)

logger = logging.getLogger(__name__)


class TemplateCalls(Transport):
    """getMessageTemplates, sendTemplateMessage and sendTemplateMessages."""

    @observed
    def get_message_templates(
        self, *, page_size: int = 100, page_number: int = 1
    ) -> list[Template]:
        """List message templates (all statuses; only APPROVED ones can be sent)."""
        name = "getMessageTemplates"
        response = self._call(
            name,
            "GET",
            self._url("getMessageTemplates"),
            params=page_params(page_size, page_number),
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

    @observed
    def send_template_message(
        self,
        wa_number: str,
        template_name: str,
        parameters: Mapping[str, str],
        *,
        channel_number: str,
        broadcast_name: str,
    ) -> TemplateSendResult:
        """Send an approved template to one customer; success means accepted by Wati. A
        customer known only by a BSUID or contact id goes in the body's `target` (§6.1)."""
        number = customer_ref(wa_number)
        channel = phone_digits(channel_number, "channel_number")
        payload = _template_payload(template_name, broadcast_name, channel)
        payload["parameters"] = _template_params(parameters)
        query: Params = {}
        if number.isdigit():
            query["whatsappNumber"] = number
        else:
            payload["target"] = number
        name = "sendTemplateMessage"
        response = self._call(
            name,
            "POST",
            self._url("sendTemplateMessage"),
            params=query,
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
        self._sent(channel, "template")
        return TemplateSendResult(
            ok=True,
            whatsapp_number=phone_digits_or_none(body.get("phone_number")) or number,
            local_message_id=opt_str(body.get("localMessageId"))
            or opt_str(first.get("localMessageId")),
        )

    @observed
    def send_template_messages(
        self,
        template_name: str,
        receivers: Sequence[tuple[str, Mapping[str, str]]],
        *,
        channel_number: str,
        broadcast_name: str,
    ) -> BulkSendResult:
        """Send one template to many numbers; accepted means accepted by Wati, per number."""
        channel = phone_digits(channel_number, "channel_number")
        payload = _template_payload(template_name, broadcast_name, channel)
        if not receivers:
            raise ValueError("no receivers")
        numbers = [phone_digits(number, "receiver number") for number, _ in receivers]
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
        self._sent(channel, "template", sum(1 for n in numbers if n not in failures))
        return BulkSendResult(
            accepted=[n for n in numbers if n not in failures],
            failed=[(n, failures[n]) for n in numbers if n in failures],
        )


def _receiver_failures(receivers: object) -> dict[str, str]:
    failures: dict[str, str] = {}
    if not isinstance(receivers, list):
        return failures
    for receiver in receivers:
        if not isinstance(receiver, dict):
            continue
        number = phone_digits_or_none(receiver.get("waId") or receiver.get("whatsappNumber"))
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
        number = phone_digits_or_none(
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
