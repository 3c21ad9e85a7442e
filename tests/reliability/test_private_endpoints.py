"""/metrics and /healthz's details kept to this machine, on the real process: answered to
loopback clients, refused (403; the bare status and reason codes for /healthz) to requests from
elsewhere (a reverse proxy's X-Forwarded-For or Forwarded marks one), and answered anywhere with
`Authorization: Bearer $BRIDGE_METRICS_TOKEN`. The HTTP listener is the same in both Slack
modes; this runs in HTTP mode. And a webhook URL's token stays out of the log even when Wati
quotes the URL in a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.devtools.harness.world import World
from bot.ops.logs import redact

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path) as w:
        w.prepare()
        yield w


def test_without_a_token_only_this_machine_reads_them(world: World) -> None:
    world.start_bridge()
    base = world.base_url
    assert httpx.get(f"{base}/metrics").status_code == 200
    relayed = {"X-Forwarded-For": "198.51.100.7"}
    refused = httpx.get(f"{base}/metrics", headers=relayed)
    assert refused.status_code == 403 and "BRIDGE_METRICS_TOKEN" in refused.text
    assert (
        httpx.get(f"{base}/metrics", headers={"Forwarded": "for=198.51.100.7"}).status_code == 403
    )
    full = httpx.get(f"{base}/healthz").json()
    assert "wati_quota" in full and "links" in full
    bare = httpx.get(f"{base}/healthz", headers=relayed)
    assert bare.status_code == 200 and bare.json() == {"status": "ok", "reasons": []}


def test_with_a_token_any_address_that_sends_it(world: World) -> None:
    world.extra_env["BRIDGE_METRICS_TOKEN"] = TOKEN
    world.start_bridge()
    base = world.base_url
    relayed = {"X-Forwarded-For": "198.51.100.7"}
    good = httpx.get(f"{base}/metrics", headers={**relayed, "Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200 and "wati_bridge" in good.text
    wrong = httpx.get(f"{base}/metrics", headers={**relayed, "Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    detail = httpx.get(f"{base}/healthz", headers={**relayed, "Authorization": f"Bearer {TOKEN}"})
    assert "wati_quota" in detail.json()
    assert TOKEN not in world.log_path.read_text()


def test_a_url_token_never_reaches_a_log_line() -> None:
    line = "refused https://b.example.com/wati/webhook?token=s3cretvalue&channel=1555: bad url"
    assert redact(line) == (
        "refused https://b.example.com/wati/webhook?token=<token>&channel=1555: bad url"
    )
