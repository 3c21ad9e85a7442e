"""The Home tab through signed app_home_opened events: per linked number the viewer can see,
customers waiting (longest first, wait time, thread link), the viewer's conversations, open
ones and the bridge's health; with 5,000 conversations, one Slack call and a few queries."""

from __future__ import annotations

import re
from typing import Any

from bot.devtools.harness.queue import seed_queue
from bot.slack import blocks
from tests.chatops.kit import CHANNEL_A, CHANNEL_B, OTHER, SLACK_A, SLACK_B, Kit, blocks_text
from tests.kit import ADMIN, AGENT

GUEST = "U0GUEST"


def open_home(kit: Kit, user: str) -> dict[str, Any]:
    """The viewer opens the app's Home tab: the view Slack now holds for them."""
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": "home",
        "event_ts": kit.driver.next_ts(),
    }
    kit.deliver(kit.driver.event(event))
    [view] = [v for v in kit.slack.views if v["type"] == "home" and v.get("user_id") == user]
    return view


def sections(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


def test_home_shows_waiting_owned_and_open_conversations_and_health(kit: Kit) -> None:
    first = kit.conversation()
    kit.clock.advance(5 * 60)
    second = kit.conversation(customer=OTHER, text="Hello?")
    kit.clock.advance(60)
    kit.click(blocks.ASSIGN_ME, second, user=AGENT)
    kit.bridge.desk.waiting.run()

    view = open_home(kit, AGENT)
    text = blocks_text(view)
    assert "+1 555-000-0001 · #support" in text and "+1 555-000-0002 · #sales" in text
    waiting, mine, opened = sections(view)[:3]
    # Longest wait first, with its wait and a link to the thread's parent.
    assert waiting.index("Ana Lima (+44 7700 900123)") < waiting.index("Ana Lima (+55 11")
    assert "*:alarm_clock: Waiting for an answer* (2)" in waiting
    assert "waiting 6 minutes" in waiting and "waiting 1 minute" in waiting
    link = f"/archives/{SLACK_A}/p{first.thread_ts.replace('.', '')}|"  # type: ignore[union-attr]
    assert link in waiting
    assert "*:bust_in_silhouette: Yours* (1)" in mine and "+55 11" in mine and "+44" not in mine
    assert "*:speech_balloon: Open conversations* (2)" in opened
    health = [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any(
        "Last poll: <!date^" in h and "Backlog: 0" in h and "Wati calls" in h for h in health
    )

    # Answered: no longer waiting, on the next opening.
    kit.click(blocks.ASSIGN_ME, first, user=ADMIN)
    kit.deliver(
        kit.driver.event(
            kit.driver.message(
                channel=SLACK_A, user=ADMIN, text="Checking", thread_ts=first.thread_ts
            )
        )
    )
    kit.bridge.outbound.process()
    kit.bridge.desk.waiting.run()
    waiting = sections(open_home(kit, AGENT))[0]
    assert "(1)" in waiting and "+44 7700" not in waiting


def test_home_shows_only_numbers_whose_channel_the_viewer_is_in(kit: Kit) -> None:
    kit.slack.add_user(GUEST, name="gus")
    kit.slack.add_channel(SLACK_B, "sales", members=[ADMIN, AGENT, GUEST])
    kit.bridge.desk.home.members.refresh(SLACK_B)
    kit.conversation()
    text = blocks_text(open_home(kit, GUEST))
    assert "#sales" in text and "#support" not in text and "+44 7700" not in text
    kit.slack.add_user("U0NOBODY", name="nobody")
    alone = blocks_text(open_home(kit, "U0NOBODY"))
    assert "You are not in any channel linked to a WhatsApp number" in alone


def test_home_of_5000_conversations_is_one_slack_call_and_a_few_queries(kit: Kit) -> None:
    now = kit.bridge.clock.now()
    seed_queue(kit.bridge.store, CHANNEL_A, SLACK_A, 4000, now=now, owner=AGENT)
    seed_queue(kit.bridge.store, CHANNEL_B, SLACK_B, 1000, now=now, owner=AGENT, first_customer=1)
    open_home(kit, AGENT)  # the first opening since the start draws the chart
    kit.bridge.desk.home.warm()  # what the desk job keeps ready
    kit.slack.clear_calls()
    statements: list[str] = []
    kit.bridge.store.db.conn.set_trace_callback(statements.append)
    try:
        view = open_home(kit, AGENT)
    finally:
        kit.bridge.store.db.conn.set_trace_callback(None)

    assert [c.method for c in kit.slack.calls] == ["views.publish"]
    selects = [s for s in statements if s.lstrip().lower().startswith(("select", "with"))]
    assert len(selects) <= 12, selects  # links, three sections, backlogs, polls, quota
    assert len(view["blocks"]) <= 100
    assert all(len(s) <= 3000 for s in sections(view))
    waiting_a, mine_a, open_a = sections(view)[:3]
    assert "Waiting for an answer* (1,334)" in waiting_a and "…and 1,324 more" in waiting_a
    assert "Yours* (800)" in mine_a and "Open conversations* (4,000)" in open_a
    # Longest first: the oldest wait of number A is customer 3999's (i = 3999 is i % 3 == 0).
    first_row = waiting_a.splitlines()[1]
    assert "Customer 3999" in first_row and re.search(r"waiting 2 days 18 hours", first_row)
