"""A broadcast is recorded whole before anything is sent, then sent chunk by chunk by the bridge's
job: after a restart, after a chunk cut mid-call, after a lost answer and after a 429."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.config import Settings
from bot.privacy.identify import read_customer
from bot.service import Bridge, build
from bot.slack import modals
from bot.store.broadcasts import ChunkState
from tests.chatops.kit import CHANNEL_A, SLACK_A, Kit, files
from tests.kit import ADMIN

BLANK = {"param:name": None, "param:order_number": None}


def _submit(kit: Kit, count: int) -> int:
    """`/wati broadcast` of order_update to `count` numbers from a CSV; the broadcast's id."""
    kit.command("broadcast")
    kit.pick(kit.view(modals.BROADCAST_VIEW), "order_update")
    rows = "".join(f"+44 7700 9{i:05d},N{i},{i}\n" for i in range(count))
    csv = kit.slack.add_file(
        f"phone,name,order_number\n{rows}".encode(),
        name="list.csv",
        mimetype="text/csv",
        user=ADMIN,
    )
    view = kit.view(modals.BROADCAST_VIEW)
    kit.submit(view, {modals.TEMPLATE: "order_update", **BLANK, modals.CSV: files(csv)})
    [broadcast] = kit.bridge.store.open_broadcasts()
    return broadcast.id


def _progress(kit: Kit) -> dict[str, Any]:
    """The one progress message (it ends as the report)."""
    [message] = [m for m in kit.slack.messages(SLACK_A) if ":loudspeaker:" in m.get("text", "")]
    return message


def _sent_to(kit: Kit) -> Counter[str]:
    """How many times each number got the broadcast."""
    return Counter(s["customer"] for s in kit.sandbox.sent_by_api(CHANNEL_A))


def _restart(kit: Kit, settings: Settings) -> Bridge:
    return build(settings, clock=kit.clock, process_before_response=True, slack_min_interval=0.0)


def test_a_broadcast_recorded_before_a_restart_is_sent_once_after_it(
    kit: Kit, settings: Settings
) -> None:
    broadcast_id = _submit(kit, 205)
    assert kit.sandbox.calls("sendTemplateMessages") == 0  # nothing went before the "crash"
    chunks = kit.bridge.store.broadcast_chunks(broadcast_id)
    assert [(c.seq, c.size, c.state) for c in chunks] == [
        (1, 100, "queued"),
        (2, 100, "queued"),
        (3, 5, "queued"),
    ]

    restarted = _restart(kit, settings)
    try:
        restarted.broadcasts.process()
        assert restarted.broadcasts.process() == 0  # a second run finds nothing more to send
        sent = _sent_to(kit)
        assert len(sent) == 205 and set(sent.values()) == {1}
        assert kit.sandbox.calls("sendTemplateMessages") == 3
        text = _progress(kit)["text"]
        assert "finished — 205 accepted by Wati, 0 failed (of 205 recipient(s))" in text
        assert restarted.store.open_broadcasts() == []
        # Done: the numbers are dropped, the counts kept.
        done = restarted.store.broadcast_chunks(broadcast_id)
        assert [(c.state, c.accepted, c.receivers) for c in done] == [
            ("done", 100, None),
            ("done", 100, None),
            ("done", 5, None),
        ]
    finally:
        restarted.shutdown()


def test_a_chunk_cut_by_a_crash_is_not_sent_again_and_is_reported_not_confirmed(
    kit: Kit, settings: Settings
) -> None:
    broadcast_id = _submit(kit, 205)
    [first, *_] = kit.bridge.store.broadcast_chunks(broadcast_id)
    # The job marked the first chunk `sending` and Wati took the call; the process died before
    # the answer was recorded.
    kit.bridge.store.update_chunk(first, state="sending", attempts=1, attempted_at=kit.clock())
    broadcast = kit.bridge.store.broadcast(broadcast_id)
    assert broadcast is not None
    kit.bridge.wati.send_template_messages(
        "order_update",
        first.people(),
        channel_number=CHANNEL_A,
        broadcast_name=broadcast.broadcast_name,
    )

    restarted = _restart(kit, settings)
    try:
        [cut] = [c for c in restarted.store.broadcast_chunks(broadcast_id) if c.seq == 1]
        assert cut.state == ChunkState.SENDING  # building the bridge touches no chunk
        restarted.broadcasts.process()
        [cut] = [c for c in restarted.store.broadcast_chunks(broadcast_id) if c.seq == 1]
        assert cut.state == ChunkState.UNKNOWN  # the job's first round knows it was cut
        sent = _sent_to(kit)
        assert len(sent) == 205 and set(sent.values()) == {1}  # the first 100 not again
        assert kit.sandbox.calls("sendTemplateMessages") == 3
        text = _progress(kit)["text"]
        assert (
            "finished — 105 accepted by Wati, 0 failed, 100 not confirmed (of 205 recipient(s))"
            in text
        )
        assert "*Not confirmed (100):*" in text and "were not sent again" in text
        assert "• +44 7700 900000: not confirmed" in text
        assert restarted.store.open_broadcasts() == []
    finally:
        restarted.shutdown()


def test_a_chunk_whose_answer_was_lost_is_not_sent_again_and_the_next_ones_go(kit: Kit) -> None:
    broadcast_id = _submit(kit, 150)
    # Wati takes the first call, then the connection drops before its answer.
    kit.sandbox.faults.inject("sendTemplateMessages", "reset_after")

    kit.bridge.broadcasts.process()
    kit.bridge.broadcasts.process()

    sent = _sent_to(kit)
    assert len(sent) == 150 and set(sent.values()) == {1}
    chunks = kit.bridge.store.broadcast_chunks(broadcast_id)
    assert [c.state for c in chunks] == ["unknown", "done"]
    text = _progress(kit)["text"]
    assert "50 accepted by Wati, 0 failed, 100 not confirmed (of 150 recipient(s))" in text


def test_a_rate_limited_chunk_waits_for_its_time_then_goes(kit: Kit) -> None:
    broadcast_id = _submit(kit, 3)
    kit.sandbox.faults.inject("sendTemplateMessages", "429", retry_after=30)

    kit.bridge.broadcasts.process()
    assert _sent_to(kit) == Counter()
    [chunk] = kit.bridge.store.broadcast_chunks(broadcast_id)
    assert chunk.state == "queued"
    assert "0 of 3 processed" in _progress(kit)["text"]
    kit.bridge.broadcasts.process()  # too early: no call
    assert kit.sandbox.calls("sendTemplateMessages") == 1

    kit.clock.advance(30)
    kit.bridge.broadcasts.process()

    sent = _sent_to(kit)
    assert len(sent) == 3 and set(sent.values()) == {1}
    assert kit.sandbox.calls("sendTemplateMessages") == 2
    text = _progress(kit)["text"]
    assert ":white_check_mark: finished — 3 accepted by Wati, 0 failed (of 3 recipient(s))" in text


def test_a_chunk_wati_refuses_whole_is_reported_with_the_reason_and_the_rest_goes(
    kit: Kit,
) -> None:
    _submit(kit, 150)
    kit.sandbox.faults.inject("sendTemplateMessages", "reject")

    kit.bridge.broadcasts.process()

    assert len(_sent_to(kit)) == 50
    text = _progress(kit)["text"]
    assert "50 accepted by Wati, 100 failed (of 150 recipient(s))" in text
    assert "Rejected by the sandbox" in text
    assert "…and 80 more" in text


def test_a_broadcast_from_an_unlinked_channel_stops_and_says_why(kit: Kit) -> None:
    _submit(kit, 3)
    kit.bridge.store.unlink(SLACK_A)

    kit.bridge.broadcasts.process()

    assert _sent_to(kit) == Counter()
    text = _progress(kit)["text"]
    assert "0 accepted by Wati, 3 failed" in text
    assert "this channel is no longer linked to +1 555-000-0001" in text


def test_a_customer_forgotten_mid_broadcast_gets_nothing_more_and_leaves_no_number(
    kit: Kit,
) -> None:
    ana = "447700900001"  # the list's second number, in conversation with the team
    kit.conversation(ana)
    broadcast_id = _submit(kit, 3)
    assert kit.bridge.eraser.forget(read_customer("+44 7700 900001"), by=ADMIN) is not None

    kit.bridge.broadcasts.process()
    assert set(_sent_to(kit)) == {"447700900000", "447700900002"}
    assert "finished — 2 accepted by Wati, 0 failed (of 2 recipient(s))" in _progress(kit)["text"]
    rows = kit.bridge.store.broadcast_chunks(broadcast_id)
    assert all(ana not in str(c) for c in rows)
