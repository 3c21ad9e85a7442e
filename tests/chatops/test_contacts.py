"""Contacts and finding conversations from Slack: the Contact button, `/wati contacts`, `/wati find`."""

from __future__ import annotations

from bot.listeners import commands, contacts
from bot.slack import blocks, modals
from tests.chatops.kit import (
    CHANNEL_A,
    CHANNEL_B,
    CUSTOMER,
    SLACK_A,
    SLACK_B,
    Kit,
    answer,
    blocks_text,
)
from tests.kit import AGENT

NEW = "14155550100"


def _params(kit: Kit, number: str) -> dict[str, str]:
    contact = kit.sandbox.contact(number)
    assert contact is not None
    return {p["name"]: p["value"] for p in contact["customParams"]}


def test_contact_button_shows_the_card_and_saves_edited_attributes(kit: Kit) -> None:
    thread = kit.conversation()
    kit.bridge.wati.update_contact_attributes(CUSTOMER, {"city": "Pune"})

    kit.click(blocks.CONTACT, thread, user=AGENT)

    view = kit.view(modals.CONTACT_VIEW)
    assert "Ana Lima" in blocks_text(view) and "+44 7700 900123" in blocks_text(view)
    [city] = [b for b in view["blocks"] if b.get("block_id") == f"{modals.ATTR}city"]
    assert (city["label"]["text"], city["element"]["initial_value"]) == ("city", "Pune")

    kit.submit(
        view,
        {
            f"{modals.ATTR}city": "Mumbai",
            modals.NEW_ATTR_NAME: "plan",
            modals.NEW_ATTR_VALUE: "gold",
        },
        user=AGENT,
    )

    assert _params(kit, CUSTOMER) == {"city": "Mumbai", "plan": "gold"}
    assert kit.told(SLACK_A)[-1] == "Contact +44 7700 900123 updated (2 attribute(s))."


def test_contact_form_checks_a_new_attribute_before_saving(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.CONTACT, thread)
    view = kit.view(modals.CONTACT_VIEW)

    no_value = kit.submit(view, {modals.NEW_ATTR_NAME: "plan", modals.NEW_ATTR_VALUE: None})
    bad_name = kit.submit(view, {modals.NEW_ATTR_NAME: "a{b}", modals.NEW_ATTR_VALUE: "x"})

    assert answer(no_value)["errors"] == {modals.NEW_ATTR_VALUE: "Give the new attribute a value."}
    assert list(answer(bad_name)["errors"]) == [modals.NEW_ATTR_NAME]
    assert _params(kit, CUSTOMER) == {}


def test_contacts_command_lists_matches_with_a_view_button(kit: Kit) -> None:
    kit.conversation()

    kit.command("contacts ana", user=AGENT)

    [reply] = kit.slack.responses
    assert reply["response_type"] == "ephemeral"
    [card] = reply["blocks"]
    assert "*Ana Lima* · +44 7700 900123" in card["text"]["text"]
    assert (card["accessory"]["action_id"], card["accessory"]["value"]) == (
        contacts.CONTACT_OPEN,
        CUSTOMER,
    )


def test_a_new_number_can_be_added_as_a_contact(kit: Kit) -> None:
    kit.command("contacts +1 (415) 555-0100")

    [reply] = kit.slack.responses
    [offer] = reply["blocks"]
    assert "not a Wati contact yet" in offer["text"]["text"]
    assert offer["accessory"]["value"] == NEW
    kit.deliver(
        kit.driver.block_action(contacts.CONTACT_OPEN, user_id=AGENT, channel_id=SLACK_A, value=NEW)
    )
    view = kit.view(modals.CONTACT_VIEW)
    assert view["submit"]["text"] == "Add"

    missing = kit.submit(view, {modals.NAME: None}, user=AGENT)
    assert answer(missing)["errors"] == {modals.NAME: "Give the contact a name."}
    kit.submit(
        view,
        {modals.NAME: "Bo Chen", modals.NEW_ATTR_NAME: "city", modals.NEW_ATTR_VALUE: "Lisbon"},
        user=AGENT,
    )

    contact = kit.sandbox.contact(NEW)
    assert contact is not None and contact["fullName"] == "Bo Chen"
    assert _params(kit, NEW) == {"city": "Lisbon"}
    assert kit.told(SLACK_A)[-1] == "Contact Bo Chen (+1 415-555-0100) added to Wati."


def test_adding_an_existing_contact_shows_wati_refusal(kit: Kit) -> None:
    kit.conversation()
    meta = modals.dump_meta("contact", channel=SLACK_A, number=CUSTOMER, thread=None, mode="add")

    kit.submit(None, {modals.NAME: "Ana"}, callback_id=modals.CONTACT_VIEW, meta=meta)

    assert kit.told(SLACK_A)[-1] == "Nothing was saved: Wati refused it: Contact already exists."


def test_contact_view_button_in_an_unlinked_channel_is_refused(kit: Kit) -> None:
    kit.slack.add_channel("C0RANDOM", "random", members=[AGENT])

    kit.deliver(
        kit.driver.block_action(
            contacts.CONTACT_OPEN, user_id=AGENT, channel_id="C0RANDOM", value=NEW
        )
    )

    assert kit.slack.views == []
    assert "not linked" in kit.told("C0RANDOM")[0]


def test_find_by_number_links_the_thread_and_the_other_numbers(kit: Kit) -> None:
    here = kit.conversation()
    elsewhere = kit.conversation(channel=CHANNEL_B)

    kit.command("find +44 7700 900123", user=AGENT)

    [reply] = kit.slack.responses
    first, second = reply["text"].splitlines()
    assert first.startswith(
        f"• <{kit.slack.url}/archives/{SLACK_A}/p{here.thread_ts.replace('.', '')}|Ana Lima"
    )  # type: ignore[union-attr]
    assert "(open)" in first
    assert f"on +1 555-000-0002 in <#{SLACK_B}>" in second
    assert elsewhere.thread_ts.replace(".", "") in second  # type: ignore[union-attr]


def test_find_by_name_and_nothing_found(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.RESOLVE, thread)

    kit.command("find ana")
    kit.command("find Zed")
    kit.command("find")

    first, nothing, usage = (r["text"] for r in kit.slack.responses)
    assert "Ana Lima" in first and "(resolved)" in first
    assert nothing.startswith("No conversation found for “Zed” on +1 555-000-0001.")
    assert usage.startswith("Find whom?")


def test_subcommands_are_in_help(kit: Kit) -> None:
    kit.command("help")

    text = kit.slack.responses[0]["text"]
    for sub in commands.SUBCOMMANDS:
        assert f"`/wati {sub.name}" in text
    assert text.index("/wati attributes") < text.index("/wati help")
    assert CHANNEL_A  # the kit linked both numbers
