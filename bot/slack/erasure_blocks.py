"""Block Kit of `/wati forget`: the confirmation an admin answers before a customer is erased."""

from __future__ import annotations

from typing import Any

FORGET_CONFIRM = "wati_forget_confirm"
FORGET_CANCEL = "wati_forget_cancel"


def forget_confirmation(shown: str, typed: str, conversations: int, numbers: int) -> dict[str, Any]:
    """The ephemeral question; the confirm button carries what was typed (`typed`)."""
    text = (
        f":warning: Erase *{shown}* from the bridge? This deletes its records of "
        f"{conversations} conversation(s) on {numbers} number(s) and the bridge's own posts of "
        "them in Slack. It cannot be undone. Teammates' replies and Wati's copy stay."
    )
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": FORGET_CONFIRM,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Erase"},
                        "value": typed[:2000],
                    },
                    {
                        "type": "button",
                        "action_id": FORGET_CANCEL,
                        "text": {"type": "plain_text", "text": "Cancel"},
                        "value": "cancel",
                    },
                ],
            },
        ],
    }
