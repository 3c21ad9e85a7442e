"""Templates from Slack: the parent's Send template button, `/wati template` and the new chat shortcut."""

from __future__ import annotations

from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.listeners import templates
from bot.service import Bridge
from bot.slack import blocks, modals
from tests.chatops.kit import (
    CHANNEL_A,
    CHANNEL_B,
    CUSTOMER,
    OTHER,
    SLACK_A,
    SLACK_B,
    Kit,
    answer,
    blocks_text,
    select,
)
from tests.kit import ADMIN, AGENT

ORDER = "Hello {{name}}, your order {{order_number}} has shipped."


def _options(view: dict[str, object]) -> list[str]:
    for block in view["blocks"]:  # type: ignore[attr-defined]
        if block.get("block_id") == modals.TEMPLATE:
            return [o["value"] for o in block["element"]["options"]]
    return []


def _block(view: dict[str, object], block_id: str) -> dict[str, object]:
    found = [b for b in view["blocks"] if b.get("block_id") == block_id]  # type: ignore[attr-defined]
    assert found, f"no block {block_id}"
    return found[0]


def _template_modal(kit: Kit) -> dict[str, object]:
    thread = kit.conversation()
    kit.click(blocks.SEND_TEMPLATE, thread)
    kit.pick(kit.view(modals.TEMPLATE_VIEW), "order_update")
    return kit.view(modals.TEMPLATE_VIEW)


def test_send_template_button_opens_the_picker_of_approved_templates(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.SEND_TEMPLATE, thread)

    view = kit.view(modals.TEMPLATE_VIEW)
    assert _options(view) == ["hello_again", "order_update"]  # spring_sale is only PENDING
    assert "Ana Lima" in blocks_text(view) and "+1 555-000-0001" in blocks_text(view)

    kit.pick(view, "order_update")

    view = kit.view(modals.TEMPLATE_VIEW)
    assert _block(view, "param:name")["element"]["initial_value"] == "Ana Lima"  # type: ignore[index]
    assert "initial_value" not in _block(view, "param:order_number")["element"]  # type: ignore[operator]
    assert "Hello Ana Lima, your order {{order_number}} has shipped." in blocks_text(view)
    assert kit.sandbox.calls("getMessageTemplates") == 1  # the list is cached


def test_template_is_sent_from_the_channel_number_and_shown_in_the_thread(kit: Kit) -> None:
    view = _template_modal(kit)
    thread = kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER)
    assert thread is not None

    response = kit.submit(
        view, {modals.TEMPLATE: "order_update", "param:name": "Ana", "param:order_number": "1001"}
    )

    assert answer(response) == {}
    sent = kit.sandbox.sent_by_api(CHANNEL_A)
    assert [(s["customer"], s["templateName"], s["text"]) for s in sent] == [
        (CUSTOMER, "order_update", "Hello Ana, your order 1001 has shipped.")
    ]
    assert kit.sandbox.sent_by_api(CHANNEL_B) == []
    texts = kit.thread_texts(thread)
    assert any("sent template *order_update* from +1 555-000-0001" in t for t in texts)
    assert any("> Hello Ana, your order 1001 has shipped." in t for t in texts)
    # The next poll sees the template in Wati's history and does not echo it into the thread.
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)
    assert kit.thread_texts(thread) == texts
    [reply] = kit.bridge.store.replies_in_state("sent")
    assert reply.body == "Hello Ana, your order 1001 has shipped." and reply.wati_id is not None


def test_template_fields_are_validated_before_anything_is_sent(kit: Kit) -> None:
    view = _template_modal(kit)

    missing = kit.submit(
        view, {modals.TEMPLATE: "order_update", "param:name": "Ana", "param:order_number": None}
    )
    unknown = kit.submit(view, {modals.TEMPLATE: "spring_sale"})

    assert answer(missing) == {
        "response_action": "errors",
        "errors": {"param:order_number": "Fill this in: the template needs it."},
    }
    assert answer(unknown)["errors"] == {modals.TEMPLATE: "Choose one of the approved templates."}
    assert kit.sandbox.sent_by_api() == []


def test_a_replayed_submission_sends_once(kit: Kit) -> None:
    view = _template_modal(kit)
    prepared = kit.submission(
        view, {modals.TEMPLATE: "order_update", "param:name": "Ana", "param:order_number": "7"}
    )

    kit.deliver(prepared)
    kit.deliver(prepared)  # a double click on Submit, or Slack's retry

    assert len(kit.sandbox.sent_by_api()) == 1


def test_wati_rejection_is_shown_in_the_thread_in_plain_words(kit: Kit) -> None:
    view = _template_modal(kit)
    thread = kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER)
    assert thread is not None
    kit.sandbox.add_template("order_update", ORDER, status="REJECTED")  # after the list was cached

    kit.submit(
        view, {modals.TEMPLATE: "order_update", "param:name": "Ana", "param:order_number": "1"}
    )

    assert kit.sandbox.sent_by_api() == []
    note = kit.thread_texts(thread)[-1]
    assert note == (
        ":x: Template *order_update* was not sent: Wati refused it: "
        "Template order_update is not approved (status REJECTED)."
    )
    assert "was not sent" in kit.told(SLACK_A)[-1]
    [reply] = kit.bridge.store.replies_in_state("failed")
    assert reply.error and "not approved" in reply.error


def test_a_template_modal_naming_another_channels_thread_is_refused(kit: Kit) -> None:
    view = _template_modal(kit)
    thread = kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER)
    assert thread is not None
    forged = modals.dump_meta("template", channel=SLACK_B, thread=thread.id)

    response = kit.submit(
        view,
        {modals.TEMPLATE: "order_update", "param:name": "Ana", "param:order_number": "1"},
        meta=forged,
    )
    garbled = kit.submit(view, {modals.TEMPLATE: "order_update"}, meta="{not json")

    body = answer(response)
    assert body["response_action"] == "update"
    assert "another channel" in blocks_text(body["view"])
    assert "not one the bridge made" in blocks_text(answer(garbled)["view"])
    assert kit.sandbox.sent_by_api() == []


def test_wati_template_command_opens_a_prefilled_modal_and_opens_the_thread(kit: Kit) -> None:
    kit.command("template +55 11 91234-5678 order_update", user=AGENT)

    view = kit.view(modals.TEMPLATE_VIEW)
    assert "+55 11 91234-5678" in blocks_text(view)
    assert _block(view, modals.TEMPLATE)["element"]["initial_option"]["value"] == "order_update"  # type: ignore[index]
    kit.submit(
        view,
        {modals.TEMPLATE: "order_update", "param:name": "Bo", "param:order_number": "9"},
        user=AGENT,
    )

    [sent] = kit.sandbox.sent_by_api(CHANNEL_A)
    assert (sent["customer"], sent["text"]) == (OTHER, "Hello Bo, your order 9 has shipped.")
    thread = kit.bridge.store.current_thread(CHANNEL_A, OTHER)
    assert thread is not None and thread.slack_channel_id == SLACK_A and thread.state == "open"
    assert any("sent template *order_update*" in t for t in kit.thread_texts(thread))
    told = kit.told(SLACK_A)[-1]
    assert (
        told.startswith("Template *order_update* sent to +55 11 91234-5678.")
        and "/archives/" in told
    )


def test_wati_template_command_refuses_a_bad_number_and_an_unlinked_channel(kit: Kit) -> None:
    kit.slack.add_channel("C0RANDOM", "random", members=[ADMIN, AGENT])
    kit.command("template 12345")
    kit.command("template +55 11 91234-5678", channel="C0RANDOM")

    told = [r["text"] for r in kit.slack.responses]
    assert "is not a phone number" in told[0]
    assert "not linked to a WhatsApp number" in told[1]
    assert kit.slack.views == []


def test_new_chat_shortcut_sends_the_template_and_opens_the_thread_in_that_channel(
    kit: Kit,
) -> None:
    kit.deliver(kit.driver.shortcut(templates.NEW_CHAT_SHORTCUT, user_id=AGENT))
    view = kit.view(modals.NEW_CHAT_VIEW)
    linked = _block(view, modals.LINKED)["element"]["options"]  # type: ignore[index]
    assert [o["value"] for o in linked] == [CHANNEL_A, CHANNEL_B]
    assert "#sales" in linked[1]["text"]["text"]
    kit.pick(view, "hello_again", user=AGENT)
    view = kit.view(modals.NEW_CHAT_VIEW)

    bad = kit.submit(
        view,
        {
            modals.LINKED: select(CHANNEL_B),
            modals.NUMBER: "0044 12",
            modals.TEMPLATE: "hello_again",
            "param:name": "Di",
        },
        user=AGENT,
    )
    assert list(answer(bad)["errors"]) == [modals.NUMBER]
    kit.submit(
        view,
        {
            modals.LINKED: select(CHANNEL_B),
            modals.NUMBER: "+55 11 91234-5678",
            modals.TEMPLATE: "hello_again",
            "param:name": "Di",
        },
        user=AGENT,
    )

    assert kit.sandbox.sent_by_api(CHANNEL_A) == []
    [sent] = kit.sandbox.sent_by_api(CHANNEL_B)
    assert sent["customer"] == OTHER and sent["templateName"] == "hello_again"
    thread = kit.bridge.store.current_thread(CHANNEL_B, OTHER)
    assert thread is not None and thread.slack_channel_id == SLACK_B
    assert any(
        "sent template *hello_again* from +1 555-000-0002" in t for t in kit.thread_texts(thread)
    )
    assert "Open the conversation" in kit.told(SLACK_B)[-1]


def test_new_chat_is_refused_for_someone_not_in_the_numbers_channel(kit: Kit) -> None:
    kit.slack.add_user("U0GUEST", name="gus")
    kit.deliver(kit.driver.shortcut(templates.NEW_CHAT_SHORTCUT, user_id="U0GUEST"))
    view = kit.view(modals.NEW_CHAT_VIEW)

    response = kit.submit(
        view,
        {
            modals.LINKED: select(CHANNEL_A),
            modals.NUMBER: "+55 11 91234-5678",
            modals.TEMPLATE: "hello_again",
            "param:name": "Di",
        },
        user="U0GUEST",
    )

    assert "You are not in #support" in answer(response)["errors"][modals.LINKED]
    assert kit.sandbox.sent_by_api() == []


def test_new_chat_without_any_link_says_so(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver
) -> None:
    prepared = driver.shortcut(templates.NEW_CHAT_SHORTCUT, user_id=ADMIN)
    prepared.dispatch(bridge.app)

    [view] = slack.views
    assert "No channel is linked" in blocks_text(view) and view.get("submit") is None


def test_send_template_button_of_a_window_notice_opens_the_modal(kit: Kit) -> None:
    thread = kit.conversation()
    assert thread.thread_ts is not None
    # What the outbound side posts when a reply was blocked by the 24-hour window.
    kit.bridge.poster.post(
        SLACK_A,
        thread_ts=thread.thread_ts,
        **blocks.notice(":lock: your reply was not sent", offer_template=thread.id),
    )
    notice = kit.slack.replies(SLACK_A, thread.thread_ts)[-1]

    kit.deliver(
        kit.driver.block_action(
            blocks.SEND_TEMPLATE, user_id=AGENT, channel_id=SLACK_A, message=notice
        )
    )

    view = kit.view(modals.TEMPLATE_VIEW)
    assert modals.load_meta(view["private_metadata"], "template")["thread"] == thread.id


def test_template_on_a_resolved_conversation_continues_in_a_new_thread(kit: Kit) -> None:
    old = kit.conversation()
    kit.click(blocks.RESOLVE, old)
    kit.click(blocks.SEND_TEMPLATE, old)
    kit.pick(kit.view(modals.TEMPLATE_VIEW), "hello_again")

    kit.submit(
        kit.view(modals.TEMPLATE_VIEW), {modals.TEMPLATE: "hello_again", "param:name": "Ana"}
    )

    new = kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER)
    assert new is not None and new.id != old.id and new.previous_thread_id == old.id
    assert any("sent template *hello_again*" in t for t in kit.thread_texts(new))
    assert "Open the conversation" in kit.told(SLACK_A)[-1]


def test_choosing_a_template_keeps_what_was_typed(kit: Kit) -> None:
    kit.deliver(kit.driver.shortcut(templates.NEW_CHAT_SHORTCUT, user_id=ADMIN))
    view = kit.view(modals.NEW_CHAT_VIEW)
    view["state"] = {
        "values": {
            modals.NUMBER: {
                modals.INPUT: {"type": "plain_text_input", "value": "+55 11 91234-5678"}
            },
            modals.LINKED: {modals.INPUT: select(CHANNEL_B)},
        }
    }

    kit.pick(view, "order_update")

    view = kit.view(modals.NEW_CHAT_VIEW)
    number = [b for b in view["blocks"] if b.get("block_id") == modals.NUMBER][0]
    linked = [b for b in view["blocks"] if b.get("block_id") == modals.LINKED][0]
    assert number["element"]["initial_value"] == "+55 11 91234-5678"
    assert linked["element"]["initial_option"]["value"] == CHANNEL_B


def test_wati_template_command_with_an_unknown_template_opens_the_picker(kit: Kit) -> None:
    kit.command("template +55 11 91234-5678 no_such_template")

    view = kit.view(modals.TEMPLATE_VIEW)
    assert "initial_option" not in _block(view, modals.TEMPLATE)["element"]  # type: ignore[operator]
    assert kit.slack.responses[-1]["text"] == (
        "No approved template is called `no_such_template`; choose one in the form."
    )
