"""What every modal's Submit shares: refusing a form, its field errors, once-only submits,
and reading a chosen template with its parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack

from bot.chatops.errors import ChatOpsError
from bot.chatops.services import Services
from bot.slack import modals

if TYPE_CHECKING:  # a name in annotations: listeners call nothing of Wati
    from bot.wati.types import Template

TAMPERED = "This form's context is not one the bridge made, so nothing was done."
FILL_IN = "Fill this in: the template needs it."


def refuse(ack: Ack, text: str, title: str = "Not done") -> None:
    """Replace the modal with plain words saying why nothing was done."""
    ack(response_action="update", view=modals.notice(title, text))


def accepted(
    ack: Ack, services: Services, view: Mapping[str, Any], errors: Mapping[str, str]
) -> bool:
    """Answer the submission: its field errors, or close the modal. True only when it is
    valid and seen for the first time (a double submit or a replay of the same view id and
    hash is acknowledged and does nothing)."""
    if errors:
        ack(response_action="errors", errors=dict(errors))
        return False
    first = services.first_sighting(f"view:{view.get('id')}:{view.get('hash')}")
    ack()
    return first


def template_and_params(
    services: Services, values: Mapping[str, Any], *, optional: bool
) -> tuple[Template | None, dict[str, str], dict[str, str]]:
    """The chosen approved template, its parameter values, and field errors."""
    try:
        template = services.templates.named(str(values.get(modals.TEMPLATE) or ""))
    except ChatOpsError as exc:
        return None, {}, {modals.TEMPLATE: exc.message}
    if template is None:
        return None, {}, {modals.TEMPLATE: "Choose one of the approved templates."}
    if any(modals.PARAM + p not in values for p in template.params):
        return None, {}, {modals.TEMPLATE: "Choose the template again to fill in its parameters."}
    params = modals.params_of(values, template)
    errors = (
        {} if optional else {modals.PARAM + p: FILL_IN for p, v in params.items() if not v.strip()}
    )
    return template, params, errors
