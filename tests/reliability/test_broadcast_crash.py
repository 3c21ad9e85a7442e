"""A broadcast in the real process, SIGKILLed while Wati holds a chunk's call: after the restart
the cut chunk is not sent again and is reported "not confirmed", the later chunks go once, and
the progress message ends as the report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bot.devtools.harness.traffic import post
from bot.devtools.harness.world import ADMIN, NUMBER_A, SLACK_A, World, wait_until
from bot.slack import modals
from bot.store import open_store

COUNT = 250  # three chunks: 100, 100, 50


def _numbers() -> list[str]:
    return [f"4477009{i:05d}" for i in range(COUNT)]


def _submit(world: World) -> None:
    """The broadcast form's Submit: hello_again ({{name}}) to COUNT pasted numbers."""
    values: dict[str, dict[str, Any]] = {
        modals.TEMPLATE: {
            modals.TEMPLATE_PICK: {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "hello_again"},
                    "value": "hello_again",
                },
            }
        },
        "param:name": {modals.INPUT: "friend"},
        modals.RECIPIENTS: {modals.INPUT: "\n".join("+" + n for n in _numbers())},
    }
    submission = world.driver.view_submission(
        modals.BROADCAST_VIEW,
        user_id=ADMIN,
        values=values,
        private_metadata=modals.dump_meta("broadcast", channel=SLACK_A),
    )
    answer = post(world, submission, timeout=20)
    assert answer is not None and answer.status_code == 200


def _report(world: World) -> str | None:
    found = [m for m in world.slack.messages(SLACK_A) if ":loudspeaker:" in m.get("text", "")]
    assert len(found) <= 1
    return str(found[0]["text"]) if found else None


def test_a_broadcast_killed_mid_chunk_goes_on_after_the_restart_without_resending(
    tmp_path: Path,
) -> None:
    with World(tmp_path) as world:
        world.prepare([])
        # The first chunk's call: Wati does the work, its answer waits (the bridge dies first).
        held = world.sandbox.faults.hold("sendTemplateMessages", applied=True)
        world.start_bridge()

        _submit(world)
        world.kill_while_held(held)
        assert len(world.sandbox.sent_by_api(NUMBER_A)) == 100  # Wati took the cut chunk

        world.start_bridge()
        wait_until(
            lambda: "finished" in (_report(world) or ""), 60, "the report on the progress message"
        )

        sent = Counter(s["customer"] for s in world.sandbox.sent_by_api(NUMBER_A))
        assert sorted(sent) == sorted(_numbers())
        assert set(sent.values()) == {1}  # the cut chunk was not sent again
        assert world.sandbox.calls("sendTemplateMessages") == 3
        report = _report(world)
        assert report is not None
        assert (
            "finished — 150 accepted by Wati, 0 failed, 100 not confirmed (of 250 recipient(s))"
            in report
        )
        assert "were not sent again" in report
        store = open_store(world.db_path)
        try:
            assert store.open_broadcasts() == []
            states = [c.state for c in store.broadcast_chunks(1)]
        finally:
            store.close()
        assert states == ["unknown", "done", "done"]
        log = world.log_path.read_text()
        assert "cut mid-send" in log
        assert not any(number in log for number in _numbers())  # no customer number at INFO
