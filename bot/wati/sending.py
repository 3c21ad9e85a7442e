"""Session sends: free text and files to a customer inside the 24-hour window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.wati.errors import WatiAuthError, WatiRejected, check_accepted, json_object
from bot.wati.transport import Params, Transport, basename, customer_ref, observed, phone_digits
from bot.wati.types import SendResult, opt_str

MAX_TEXT_LENGTH = 4096
_SUCCESS_WORDS = frozenset({"success", "true", "ok"})


class SendingCalls(Transport):
    """sendSessionMessage and sendSessionFile."""

    @observed
    def send_session_message(
        self,
        wa_number: str,
        text: str,
        *,
        channel_number: str,
        local_message_id: str | None = None,
    ) -> SendResult:
        """Send free text inside the 24-hour window; success means accepted by Wati."""
        number = customer_ref(wa_number)
        channel = phone_digits(channel_number, "channel_number")
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
        self._sent(channel, "session")
        return _send_result(body, local_message_id)

    @observed
    def send_interactive_buttons(
        self, wa_number: str, body: str, buttons: Sequence[str], *, channel_number: str
    ) -> SendResult:
        """Send WhatsApp reply buttons (v3 interactive, `Channel:Phone` target) in the window.

        A tenant without v3 interactive messages answers 403 or 404: WatiRejected(status 403 or
        404), which is not reported as a token problem (the caller falls back to plain text).
        """
        number = customer_ref(wa_number)
        channel = phone_digits(channel_number, "channel_number")
        scheme, host, port = self._origin
        payload = {
            "target": f"{channel}:{number}",
            "type": "buttons",
            "button_message": {"body": body, "buttons": [{"text": b} for b in buttons]},
        }
        name = "sendInteractiveMessage"
        try:
            response = self._call(
                name,
                "POST",
                f"{scheme}://{host}:{port}/api/ext/v3/conversations/messages/interactive",
                json_body=payload,
                write=True,
                session=True,
                optional=True,
            )
        except WatiAuthError as exc:
            if exc.status_code != 403:
                raise
            raise WatiRejected(exc.reason, status_code=403, endpoint=name) from exc
        answer = json_object(name, response, write=True)
        check_accepted(name, answer, session=True, require_flag=True)
        self._sent(channel, "session")
        message = answer.get("message")
        message = message if isinstance(message, dict) else {}
        return SendResult(opt_str(message.get("id")), None, None, None)

    @observed
    def send_session_file(
        self,
        wa_number: str,
        *,
        filename: str,
        content: bytes,
        content_type: str,
        channel_number: str,
        caption: str | None = None,
        voice: bool = False,
    ) -> SendResult:
        """Send a file inside the 24-hour window; success means accepted by Wati.

        `caption` also names the file on the customer's phone; `voice` asks for a voice
        note (WhatsApp shows one only for audio/ogg with opus, wati-recorded.md §6.2).
        """
        number = customer_ref(wa_number)
        channel = phone_digits(channel_number, "channel_number")
        params: Params = {"channelPhoneNumber": channel}
        if caption:
            params["caption"] = caption
        if voice:
            params["voice"] = "true"
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
        self._sent(channel, "session")
        result = _send_result(body, None)
        # One client saw {"result": "<message id>"} from this endpoint.
        flag = body.get("result")
        if result.message_id is None and isinstance(flag, str):
            if flag.strip() and flag.strip().lower() not in _SUCCESS_WORDS:
                return SendResult(flag.strip(), result.whatsapp_message_id, None, result.status)
        return result


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
