"""A template sent from Slack goes through the outbox: after a crash, a lost answer, a refusal,
and outside the 24-hour window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.relay import templated
from bot.relay.outbound import QUEUED, Intake
from bot.relay.templated import TemplateSend
from bot.service import Bridge, build
from bot.slack import blocks, modals
from bot.store.chats import Thread
from bot.store.outbox import Delivery, Job
from bot.wati.types import WatiMessage
from tests.chatops.kit import CHANNEL_A, CUSTOMER, SLACK_A, Kit
from tests.kit import ADMIN, AGENT

DAY = 24 * 3600
ORDER = "Hello {{name}}, your order {{order_number}} has shipped."
TEXT = "Hello Ana, your order 1001 has shipped."
VALUES = {modals.TEMPLATE: "order_update", "param:name": "Ana", "param:order_number": "1001"}


def _submit(kit: Kit) -> Thread:
    """The parent's Send template, order_update chosen and filled in, Submit."""
    thread = kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER) or kit.conversation()
    kit.click(blocks.SEND_TEMPLATE, thread)
    kit.pick(kit.view(modals.TEMPLATE_VIEW), "order_update")
    kit.submit(kit.view(modals.TEMPLATE_VIEW), VALUES)
    return thread


def _job(bridge: Bridge) -> Job:
    [reply] = [r for r in bridge.store.replies_in_state(*_ALL) if r.body == TEXT]
    job = bridge.store.reply_job(reply.id)
    assert job is not None and job.template is not None
    return job


_ALL = ("queued", "sending", "sent", "failed", "blocked", "unknown")


def _templates_sent(kit: Kit) -> list[dict[str, Any]]:
    return [s for s in kit.sandbox.sent_by_api(CHANNEL_A) if s["templateName"] == "order_update"]


def _note(kit: Kit, job: Job) -> dict[str, Any]:
    """The template's note in its thread, as Slack holds it now."""
    thread = kit.thread(job.thread_id)
    assert thread.thread_ts is not None
    [note] = [m for m in kit.slack.replies(SLACK_A, thread.thread_ts) if m["ts"] == job.slack_ts]
    return note


def _buttons(message: dict[str, Any]) -> list[str]:
    """The action ids of a message's buttons."""
    return [e["action_id"] for b in message.get("blocks") or [] for e in b.get("elements") or []]


def _echoes(kit: Kit, thread: Thread) -> list[str]:
    """Thread messages that repeat the template's text as a relayed message (not the note)."""
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)
    return [t for t in kit.thread_texts(thread) if TEXT in t and "template" not in t]


def test_a_template_queued_before_a_crash_goes_once_after_the_restart(
    kit: Kit, settings: Settings
) -> None:
    thread = kit.conversation()
    # What Templates.send does before it has the sender send: the note, the queued row, ⏳.
    # The process dies right there (nothing was sent).
    note_ts = kit.bridge.services.templates.notes.post(
        thread, templated.sending_text(ADMIN, "order_update", TEXT)
    )
    spec = TemplateSend("order_update", {"name": "Ana", "order_number": "1001"}, "bridge_test")
    reply = kit.bridge.store.queue_template(thread, note_ts, ADMIN, TEXT, spec.dump())
    kit.bridge.outbound.acknowledge(Intake(QUEUED, reply.id))
    assert kit.slack.reactions(SLACK_A, note_ts) == ["hourglass_flowing_sand"]
    assert _templates_sent(kit) == []

    restarted = build(
        settings, clock=kit.clock, process_before_response=True, slack_min_interval=0.0
    )
    try:
        restarted.outbound.process()
        restarted.outbound.process()  # a second round finds nothing more to send
        [sent] = _templates_sent(kit)
        assert sent["customer"] == CUSTOMER and sent["text"] == TEXT
        job = _job(restarted)
        assert job.state == "sent" and job.attempts == 1 and job.resends == 0
        assert "sent template *order_update* from +1 555-000-0001" in _note(kit, job)["text"]
        assert kit.slack.reactions(SLACK_A, note_ts) == ["white_check_mark"]
    finally:
        restarted.shutdown()
    assert _echoes(kit, thread) == []


def test_a_lost_answer_is_settled_from_wati_history_and_not_sent_twice(kit: Kit) -> None:
    kit.conversation()
    kit.sandbox.faults.inject("sendTemplateMessage", "reset_after")  # taken, then the line drops

    thread = _submit(kit)

    job = _job(kit.bridge)
    assert job.state == "unknown" and len(_templates_sent(kit)) == 1
    assert "Wati did not confirm template *order_update*" in kit.told(SLACK_A)[-1]
    assert "is sending template" in _note(kit, job)["text"]
    # A poll meanwhile sees the template in the history: it is the bridge's own, no echo.
    assert _echoes(kit, thread) == []
    checks = kit.sandbox.calls("getMessages")
    kit.bridge.outbound.process()  # too early: the history is not asked yet
    assert kit.sandbox.calls("getMessages") == checks and _job(kit.bridge).state == "unknown"

    kit.clock.advance(31)
    kit.bridge.outbound.process()
    kit.bridge.outbound.process()

    [sent] = _templates_sent(kit)
    job = _job(kit.bridge)
    assert job.state == "sent" and job.resends == 0 and job.wati_id == sent["id"]
    assert [p.wati_id for p in kit.bridge.store.reply_parts(job.id)] == [sent["id"]]
    assert "sent template *order_update*" in _note(kit, job)["text"]
    assert kit.slack.reactions(SLACK_A, job.slack_ts) == ["white_check_mark"]
    assert _echoes(kit, thread) == []


def test_a_template_wati_never_took_is_sent_again_once_after_the_history_check(
    kit: Kit,
) -> None:
    kit.conversation()
    kit.sandbox.faults.inject("sendTemplateMessage", "500")  # refused before it was applied

    _submit(kit)

    assert _job(kit.bridge).state == "unknown" and _templates_sent(kit) == []
    kit.clock.advance(31)
    kit.bridge.outbound.process()
    [sent] = _templates_sent(kit)
    job = _job(kit.bridge)
    assert sent["text"] == TEXT and job.state == "sent" and job.resends == 1


def test_a_template_goes_when_the_24_hour_window_is_closed(kit: Kit) -> None:
    kit.conversation()
    kit.clock.advance(DAY + 60)
    assert not kit.sandbox.window_open(CHANNEL_A, CUSTOMER)

    _submit(kit)

    [sent] = _templates_sent(kit)
    assert sent["text"] == TEXT
    job = _job(kit.bridge)
    assert job.state == "sent" and job.reopen == 0
    assert kit.sandbox.calls("updateChatStatus") == 0  # no reopen step for a template
    assert "sent template *order_update*" in _note(kit, job)["text"]


def test_a_refused_template_is_told_in_its_note_once_and_retry_sends_it(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.SEND_TEMPLATE, thread)
    kit.pick(kit.view(modals.TEMPLATE_VIEW), "order_update")
    kit.sandbox.add_template("order_update", ORDER, status="PAUSED")  # after the list was cached
    before = len(kit.thread_texts(thread))

    kit.submit(kit.view(modals.TEMPLATE_VIEW), VALUES)

    job = _job(kit.bridge)
    assert job.state == "failed" and _templates_sent(kit) == []
    texts = kit.thread_texts(thread)
    assert len(texts) == before + 1  # the note only: no separate notice
    note = _note(kit, job)
    assert note["text"].startswith(":x: Template *order_update* was not sent: Wati refused it")
    assert _buttons(note) == [blocks.RETRY]
    assert kit.slack.reactions(SLACK_A, job.slack_ts) == ["x"]
    assert "was not sent" in kit.told(SLACK_A)[-1]

    kit.sandbox.add_template("order_update", ORDER, status="APPROVED")
    kit.deliver(
        kit.driver.block_action(blocks.RETRY, user_id=AGENT, channel_id=SLACK_A, message=note)
    )
    assert _note(kit, job)["text"].endswith("pressed Retry: sending it again.")  # not "reply"
    kit.bridge.outbound.process()

    [sent] = _templates_sent(kit)
    assert sent["text"] == TEXT and _job(kit.bridge).state == "sent"
    note = _note(kit, job)
    assert "sent template *order_update*" in note["text"]
    assert _buttons(note) == []
    assert kit.slack.reactions(SLACK_A, job.slack_ts) == ["white_check_mark"]


def test_a_sent_template_whose_note_slack_refused_to_rewrite_is_told_later(kit: Kit) -> None:
    kit.conversation()
    kit.slack.fail_next("chat.update", status=200, error="internal_error")

    _submit(kit)

    job = _job(kit.bridge)
    assert job.state == "sent" and len(_templates_sent(kit)) == 1
    assert "is sending template" in _note(kit, job)["text"]
    kit.bridge.outbound.process()  # the first round after a start checks shown outcomes

    assert "sent template *order_update*" in _note(kit, job)["text"]
    assert len(_templates_sent(kit)) == 1


def test_a_sent_templates_delivery_moves_its_notes_mark(kit: Kit) -> None:
    thread = _submit(kit)
    job = _job(kit.bridge)
    assert kit.slack.reactions(SLACK_A, job.slack_ts) == ["white_check_mark"]

    assert _echoes(kit, thread) == []  # this poll knows the echo as the template's
    kit.clock.advance(5)  # the sandbox has it read by now
    assert _echoes(kit, thread) == []

    assert kit.slack.reactions(SLACK_A, job.slack_ts) == ["eyes"]
    job = _job(kit.bridge)
    [part] = kit.bridge.store.reply_parts(job.id)
    assert job.delivery == "READ" and part.wati_id == job.wati_id is not None


def test_a_template_whatsapp_could_not_deliver_says_so_on_its_note_and_retry_sends_it(
    kit: Kit,
) -> None:
    thread = _submit(kit)
    assert _echoes(kit, thread) == []  # the poll matched the echo: the row knows its Wati id
    job = _job(kit.bridge)
    chat = kit.bridge.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and job.wati_id is not None
    failed = WatiMessage(
        id=job.wati_id,
        created=datetime.now(UTC),
        event_type="broadcastMessage",
        type="",
        text=TEXT,
        data=None,
        owner=True,
        status=Delivery.FAILED,
        operator_name=None,
        local_message_id=None,
        failed_detail="Message undeliverable (131026)",
        conversation_id=None,
        raw={},
        template=True,
    )

    kit.bridge.outbound.note_history(chat, [failed])

    job = _job(kit.bridge)
    assert job.state == "failed" and job.delivery == Delivery.FAILED
    note = _note(kit, job)
    assert note["text"] == (
        ":x: Template *order_update* was not delivered: WhatsApp could not deliver it "
        "(Message undeliverable (131026))."
    )
    assert _buttons(note) == [blocks.RETRY]
    assert kit.slack.reactions(SLACK_A, job.slack_ts) == ["x"]

    kit.deliver(
        kit.driver.block_action(blocks.RETRY, user_id=AGENT, channel_id=SLACK_A, message=note)
    )
    kit.bridge.outbound.process()

    assert [s["text"] for s in _templates_sent(kit)] == [TEXT, TEXT]
    assert _job(kit.bridge).state == "sent"
    assert "sent template *order_update*" in _note(kit, job)["text"]
    assert _echoes(kit, thread) == []  # the new send's echo is the row's too
    assert _job(kit.bridge).wati_id == _templates_sent(kit)[-1]["id"]
