"""`GET /metrics` and BRIDGE_LOG_FORMAT=json, from a real bridge process after real traffic."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.devtools.harness.traffic import Traffic, post, settle
from bot.devtools.harness.world import (
    ADMIN,
    CHATS,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    World,
    wait_until,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Scraped:
    world: World
    traffic: Traffic
    samples: Samples
    content_type: str
    failed_text: str


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    with World(tmp_path_factory.mktemp("metrics")) as world:
        world.prepare()
        traffic = world.traffic(random.Random(3))
        traffic.greet()
        traffic.customer_says(CHATS[0])
        world.start_bridge(env={"BRIDGE_LOG_FORMAT": "json"})
        settle(traffic)
        threads = {t[2:]: t for t in traffic.open_threads()}
        assert traffic.reply(threads[CHATS[0]]) is not None
        settle(traffic)
        # A reply Wati refuses (HTTP 200, result false), and a Slack call that fails.
        world.sandbox.faults.inject("sendSessionMessage", "reject")
        failed_text = "this one is refused by Wati"
        assert traffic.reply(threads[CHATS[1]], text=failed_text) is not None
        settle(traffic)
        # A number of the account (the sandbox lists them), so the link gets as far as
        # Slack's refusal: the bot is not in that channel.
        nowhere = world.driver.slash_command(
            f"link {NUMBER_B}",
            user_id=ADMIN,
            channel_id="C0NOWHERE",
            response_url=world.slack.response_url(channel="C0NOWHERE"),
        )
        response = post(world, nowhere)
        assert response is not None and response.status_code == 200
        wait_until(
            lambda: any("/invite" in r.get("text", "") for r in world.slack.responses),
            10,
            "the answer to the link attempt",
        )
        answer = httpx.get(f"{world.base_url}/metrics", timeout=5)
        assert answer.status_code == 200
        samples: Samples = {}
        for family in text_string_to_metric_families(answer.text):
            for s in family.samples:
                samples[(s.name, frozenset(s.labels.items()))] = s.value
        yield Scraped(world, traffic, samples, answer.headers["content-type"], failed_text)


def test_metrics_count_what_happened(scraped: Scraped) -> None:
    samples, traffic = scraped.samples, scraped.traffic
    assert scraped.content_type.startswith("text/plain; version=0.0.4")
    a = {"number": NUMBER_A, "slack_channel": SLACK_A}
    said_on_a = sum(1 for number, _, _ in traffic.said.values() if number == NUMBER_A)
    assert said_on_a == 3
    assert sample(samples, "wati_bridge_links") == 2
    assert sample(samples, "wati_bridge_messages_relayed_total", **a, direction="in") == 3
    assert sample(samples, "wati_bridge_messages_relayed_total", **a, direction="mirror") == 0
    assert sample(samples, "wati_bridge_backlog", **a) == 0
    assert sample(samples, "wati_bridge_backlog_oldest_seconds", **a) == 0
    assert sample(samples, "wati_bridge_replies_sent_total", **a) == 1
    assert sample(samples, "wati_bridge_replies_failed_total", **a) == 1
    assert sample(samples, "wati_bridge_outbox", **a, state="sent") == 1
    assert sample(samples, "wati_bridge_outbox", **a, state="failed") == 1
    assert sample(samples, "wati_bridge_outbox", **a, state="queued") == 0
    assert sample(samples, "wati_bridge_open_conversations", **a) == 2
    assert 0 <= sample(samples, "wati_bridge_poll_lag_seconds", **a) < 600
    assert ("wati_bridge_poll_lag_seconds", frozenset(a.items())) in samples
    b = {"number": NUMBER_B, "slack_channel": "C0SALES"}
    assert sample(samples, "wati_bridge_messages_relayed_total", **b, direction="in") == 2
    assert sample(samples, "wati_bridge_wati_calls_this_month", endpoint="getMessages") > 0
    assert sample(samples, "wati_bridge_wati_calls_this_month", endpoint="sendSessionMessage") == 2
    assert sample(samples, "wati_bridge_wati_monthly_quota") == 100_000_000
    assert 0 < sample(samples, "wati_bridge_wati_quota_used_ratio") < 0.001
    assert sample(samples, "wati_bridge_wati_polling_paced") == 0
    wati_rejected = {"side": "wati", "kind": "rejected", "call": "sendSessionMessage"}
    assert sample(samples, "wati_bridge_errors_total", **wati_rejected) == 1
    slack_missing = {"side": "slack", "kind": "channel_not_found", "call": "conversations.info"}
    assert sample(samples, "wati_bridge_errors_total", **slack_missing) == 1


def test_json_logs_are_one_object_per_line_with_reason_codes_and_no_text(
    scraped: Scraped,
) -> None:
    log = scraped.world.log_path.read_text()
    entries = [json.loads(line) for line in log.splitlines()]  # every line parses
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    messages = [e["message"] for e in entries]
    assert any(m.endswith("failed (reason: wati_rejected)") for m in messages), messages
    assert any(m.startswith("bridge started") for m in messages)
    assert scraped.failed_text not in log
    for _, _, text in scraped.traffic.said.values():
        assert text not in log
