"""Saved replies through signed requests: `/wati replies`, the modal with {name} and the
contact's attributes filled in and a preview, and the send through the outbox: once under
replays, Slack's retries and double clicks, with the same reactions and 24-hour rule."""

from __future__ import annotations

from typing import Any

from slack_bolt.response import BoltResponse

from bot.slack import blocks, team_views
from bot.store.chats import Thread
from tests.chatops.kit import CUSTOMER, SLACK_A, Kit, answer, blocks_text, select
from tests.kit import ADMIN, AGENT

SHIPPING = "Hi {name}, your parcel leaves {city} today."


def add(kit: Kit, name: str, text: str) -> int:
    kit.command(f"replies add {name} {text}", user=ADMIN)
    found = kit.bridge.store.saved_reply(name)
    assert found is not None
    return found.id


def open_and_pick(kit: Kit, thread: Thread, reply_id: int, user: str = AGENT) -> dict[str, Any]:
    """Saved reply on the parent, then choose one: the modal as Slack now shows it."""
    kit.click(blocks.SAVED_REPLY, thread, user=user)
    view = kit.view(team_views.SAVED_VIEW)
    picked = kit.driver.view_select(
        view,
        team_views.SAVED_PICK,
        block_id=team_views.SAVED_BLOCK,
        value=str(reply_id),
        user_id=user,
    )
    kit.deliver(picked)
    return kit.view(team_views.SAVED_VIEW)


def submit(kit: Kit, view: dict[str, Any], reply_id: int, user: str = AGENT) -> BoltResponse:
    return kit.submit(view, {team_views.SAVED_BLOCK: select(str(reply_id))}, user=user)


def posts_by(kit: Kit, thread: Thread, user: str) -> list[dict[str, Any]]:
    assert thread.thread_ts is not None
    return [
        m
        for m in kit.slack.replies(SLACK_A, thread.thread_ts)[1:]
        if f"Sent by <@{user}>" in blocks_text(m)
    ]


def test_admins_add_and_remove_saved_replies_and_everyone_lists_them(kit: Kit) -> None:
    kit.command("replies", user=AGENT)
    assert "There are no saved replies yet" in kit.told()[-1]
    kit.command("replies add thanks Thank you, {name}!", user=AGENT)
    assert "Only workspace admins and owners can add or remove saved replies" in kit.told()[-1]
    add(kit, "thanks", "Thank you, {name}!")
    assert kit.told()[-1] == "Saved reply `thanks` added."
    add(kit, "Thanks", "Thanks a lot, {name}!")  # same name, any case: replaced
    assert kit.told()[-1] == "Saved reply `Thanks` replaced."
    add(kit, "shipping", SHIPPING)
    kit.command("replies", user=AGENT)
    listed = kit.told()[-1]
    assert "*Saved replies* (2)" in listed and "• `thanks` — Thanks a lot, {name}!" in listed
    kit.command("replies remove shipping", user=AGENT)
    assert "Only workspace admins" in kit.told()[-1]
    kit.command("replies remove shipping", user=ADMIN)
    assert kit.told()[-1] == "Saved reply `shipping` removed."
    kit.command("replies remove shipping", user=ADMIN)
    assert kit.told()[-1] == "There is no saved reply called `shipping`."
    kit.command("replies add bad/name hello", user=ADMIN)
    assert "one word of letters" in kit.told()[-1]
    kit.command("replies add empty", user=ADMIN)
    assert "What should `empty` say?" in kit.told()[-1]


def test_the_modal_fills_in_name_and_attributes_and_previews_the_reply(kit: Kit) -> None:
    thread = kit.conversation()
    kit.bridge.wati.update_contact_attributes(CUSTOMER, {"city": "Pune <Central>"})
    reply_id = add(kit, "shipping", SHIPPING)
    view = open_and_pick(kit, thread, reply_id)
    shown = blocks_text(view)
    assert "To *Ana Lima (+44 7700 900123)* from +1 555-000-0001." in shown
    # Escaped: a contact's values can never become Slack markup.
    assert "> Hi Ana Lima, your parcel leaves Pune &lt;Central&gt; today." in shown
    assert "Nothing to fill" not in shown


def test_a_saved_reply_is_sent_once_under_replays_retries_and_double_clicks(kit: Kit) -> None:
    thread = kit.conversation()
    kit.bridge.wati.update_contact_attributes(CUSTOMER, {"city": "Pune"})
    reply_id = add(kit, "shipping", SHIPPING)
    view = open_and_pick(kit, thread, reply_id)
    prepared = kit.submission(view, {team_views.SAVED_BLOCK: select(str(reply_id))}, user=AGENT)
    assert answer(kit.deliver(prepared)) == {}
    kit.deliver(prepared)  # the same request again
    kit.deliver(kit.driver.redeliver(prepared))  # Slack's retry of it
    submit(kit, view, reply_id)  # a second click on Send: the same view, a new hash
    kit.bridge.outbound.process()
    kit.bridge.desk.saved.recover()

    [sent] = kit.sandbox.sent_by_api()
    assert sent["text"] == "Hi Ana Lima, your parcel leaves Pune today."
    [post] = posts_by(kit, thread, AGENT)
    assert "saved reply `shipping`" in blocks_text(post)
    # The same outbox as a typed reply: its row, its reaction.
    job = kit.bridge.store.reply_by_ts(SLACK_A, post["ts"])
    assert job is not None and job.user_id == AGENT and job.state == "sent"
    assert kit.slack.reactions(SLACK_A, post["ts"]) == ["white_check_mark"]
    assert kit.told() == [kit.told()[0]] and "added" in kit.told()[0]  # nothing else to say


def test_a_saved_reply_outside_the_window_is_blocked_like_a_typed_one(kit: Kit) -> None:
    thread = kit.conversation()
    reply_id = add(kit, "thanks", "Thank you, {name}!")
    kit.clock.advance(25 * 3600)
    view = open_and_pick(kit, thread, reply_id)
    assert "24-hour window is closed" in blocks_text(view)
    submit(kit, view, reply_id)
    kit.bridge.outbound.process()
    assert kit.sandbox.sent_by_api() == []
    [post] = posts_by(kit, thread, AGENT)
    assert kit.slack.reactions(SLACK_A, post["ts"]) == ["lock"]
    job = kit.bridge.store.reply_by_ts(SLACK_A, post["ts"])
    assert job is not None and job.state == "blocked"
    assert any("use *Send template*" in t for t in kit.thread_texts(thread))


def test_an_attribute_the_contact_lacks_is_shown_and_refused(kit: Kit) -> None:
    thread = kit.conversation()
    reply_id = add(kit, "order", "Your order {order_id} ships today.")
    view = open_and_pick(kit, thread, reply_id)
    assert "Nothing to fill `{order_id}` with for this customer" in blocks_text(view)
    refused = answer(submit(kit, view, reply_id))
    assert refused["errors"] == {
        team_views.SAVED_BLOCK: "Nothing fills {order_id} for this customer."
    }
    assert posts_by(kit, thread, AGENT) == [] and kit.bridge.store.saved_send(view["id"]) is None


def test_no_saved_replies_yet_says_how_to_add_one(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.SAVED_REPLY, thread, user=AGENT)
    assert "There are no saved replies yet" in blocks_text(kit.slack.views[-1])


def test_a_send_cut_between_its_post_and_the_outbox_is_finished_once(kit: Kit) -> None:
    thread = kit.conversation()
    assert thread.thread_ts is not None
    # As a crash leaves it: recorded and posted, not yet in the outbox.
    kit.bridge.store.start_send(
        view_id="V0CRASHED",
        thread_id=thread.id,
        user_id=AGENT,
        reply_name="thanks",
        body="Thank you, Ana!",
        created_at="2000-01-01T00:00:00+00:00",
    )
    kit.bridge.poster.post(
        SLACK_A,
        thread_ts=thread.thread_ts,
        **team_views.saved_post("Thank you, Ana!", "thanks", AGENT, "V0CRASHED"),
    )
    assert kit.bridge.desk.saved.recover() == 1
    assert kit.bridge.desk.saved.recover() == 0
    kit.bridge.outbound.process()
    [sent] = kit.sandbox.sent_by_api()
    assert sent["text"] == "Thank you, Ana!"
    assert len(posts_by(kit, thread, AGENT)) == 1  # found again, not posted twice
