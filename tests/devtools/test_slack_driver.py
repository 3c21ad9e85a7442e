"""The Slack request driver: payload shapes, signatures, and real Bolt dispatch of what it sends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
SECRET = "driver-test-signing-secret"
SUPPORT, AGENT, ADMIN = "C0SUPPORT", "U0AGENT", "U0ADMIN"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


# ---------------------------------------------------------------- signing


def test_sign_matches_slacks_published_test_vector() -> None:
    vector = fixture("d2_signature_test_vector_docs.json")
    driver = SlackDriver(vector["signing_secret"])

    headers = driver.sign(vector["body"], timestamp=1531420618)

    assert headers == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": vector["headers"]["X-Slack-Signature"],
    }


def test_every_request_verifies_with_slack_sdks_verifier() -> None:
    driver = SlackDriver(SECRET)
    verifier = SignatureVerifier(SECRET)
    requests = [
        driver.event(driver.message(channel=SUPPORT, user=AGENT, text="hi")),
        driver.slash_command("status", user_id=AGENT, channel_id=SUPPORT),
        driver.block_action("resolve", user_id=AGENT, channel_id=SUPPORT),
        driver.view_submission("new_chat", user_id=AGENT, values={"b": {"a": "x"}}),
        driver.shortcut("new_whatsapp_chat", user_id=AGENT),
        driver.message_action(
            "forward_to_whatsapp",
            user_id=AGENT,
            channel_id=SUPPORT,
            message=driver.message(channel=SUPPORT, user=AGENT, text="fwd"),
        ),
        driver.url_verification("challenge-me"),
    ]
    for prepared in requests:
        assert verifier.is_valid_request(prepared.body, prepared.headers)
        assert not SignatureVerifier("other-secret").is_valid_request(
            prepared.body, prepared.headers
        )


def test_the_clock_sets_the_timestamp() -> None:
    driver = SlackDriver(SECRET, clock=lambda: 1_700_000_000.5)
    prepared = driver.shortcut("x", user_id=AGENT)
    assert prepared.headers["X-Slack-Request-Timestamp"] == "1700000000"
    stale = SignatureVerifier(SECRET)  # real clock: the request is years old
    assert not stale.is_valid_request(prepared.body, prepared.headers)


# ---------------------------------------------------------------- shapes against real captures


def test_event_envelope_has_the_fields_of_a_real_one() -> None:
    driver = SlackDriver(SECRET, team_id="T111", api_app_id="A111")
    event = driver.message(channel="C111", user="W222", text="hi")

    prepared = driver.event(event, event_id="Ev42")
    envelope = prepared.payload
    real = fixture("x_event_message_user_toplevel.json")

    assert set(real) - {"enterprise_id"} <= set(envelope)
    assert set(real["authorizations"][0]) == set(envelope["authorizations"][0])
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev42"
    assert envelope["event"] == event
    assert prepared.headers["Content-Type"] == "application/json"
    assert driver.event(event).payload["event_id"] != driver.event(event).payload["event_id"]


@pytest.mark.parametrize(
    ("fixture_name", "kwargs"),
    [
        ("x_event_message_user_toplevel.json", {}),
        ("a_event_message_thread_reply.json", {"thread_ts": "1726133698.626339"}),
        (
            "x_event_message_thread_broadcast.json",
            {"thread_ts": "1.000100", "subtype": "thread_broadcast"},
        ),
        ("b_event_bot_message_classic_subtype.json", {"subtype": "bot_message"}),
        ("b_event_bot_message_modern_no_subtype.json", {"bot_id": "B999"}),
        ("c_event_message_changed.json", {"subtype": "message_changed", "ts": "1.000100"}),
        ("x_event_message_deleted.json", {"subtype": "message_deleted", "ts": "1.000100"}),
    ],
)
def test_message_events_have_the_fields_of_real_ones(
    fixture_name: str, kwargs: dict[str, Any]
) -> None:
    driver = SlackDriver(SECRET)
    built = driver.message(channel="C111", user="U111", text="hello", **kwargs)
    real = fixture(fixture_name)["event"]

    # Fields some captures carry and Slack leaves out as often as not.
    optional = {"user_team", "source_team", "user_profile", "parent_user_id"}
    assert set(real) - optional <= set(built), set(real) - set(built)
    assert built.get("subtype") == real.get("subtype")
    for nested in ("message", "previous_message"):
        if nested in real:
            assert set(real[nested]) <= set(built[nested]), set(real[nested]) - set(built[nested])


def test_file_share_event_carries_the_files() -> None:
    driver = SlackDriver(SECRET)
    real = fixture("h_event_message_file_share.json")["event"]
    files = real["files"]

    built = driver.message(channel="C111", user="U111", text="Hi there!", files=files)

    assert built["subtype"] == "file_share" and built["files"] == files
    assert set(real) <= set(built)


def test_slash_command_is_a_form_body_like_slacks() -> None:
    driver = SlackDriver(SECRET)
    real = dict(parse_qsl((FIXTURES / "d_slash_command_form_body.txt").read_text().strip()))

    prepared = driver.slash_command(
        "link +1 415-555-0100", user_id=ADMIN, channel_id=SUPPORT, response_url="http://r/1"
    )
    fields = dict(parse_qsl(prepared.body))

    assert set(real) - {"enterprise_id", "enterprise_name"} <= set(fields)
    assert fields["command"] == "/wati" and fields["text"] == "link +1 415-555-0100"
    assert fields["response_url"] == "http://r/1" and fields["trigger_id"]
    assert prepared.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert prepared.payload == fields


@pytest.mark.parametrize(
    ("fixture_name", "build"),
    [
        (
            "e_block_actions.json",
            lambda d: d.block_action(
                "resolve", user_id=AGENT, channel_id=SUPPORT, message_ts="1.000100", value="v"
            ),
        ),
        (
            "g_view_submission.json",
            lambda d: d.view_submission(
                "new_chat",
                user_id=AGENT,
                values={"phone": {"number": "+1415"}},
                private_metadata="m",
            ),
        ),
        ("f2_global_shortcut.json", lambda d: d.shortcut("new_whatsapp_chat", user_id=AGENT)),
        (
            "f_message_action.json",
            lambda d: d.message_action(
                "forward_to_whatsapp",
                user_id=AGENT,
                channel_id=SUPPORT,
                message=d.message(channel=SUPPORT, user=AGENT, text="fwd"),
            ),
        ),
    ],
)
def test_interactions_are_payload_form_bodies_like_slacks(fixture_name: str, build: Any) -> None:
    driver = SlackDriver(SECRET)
    real = fixture(fixture_name)

    prepared = build(driver)
    fields = dict(parse_qsl(prepared.body))
    payload = json.loads(fields["payload"])

    assert list(fields) == ["payload"]
    assert set(real) <= set(payload), set(real) - set(payload)
    assert payload["type"] == real["type"]
    if "view" in real:
        assert set(real["view"]) <= set(payload["view"])
        assert payload["view"]["state"]["values"] == {
            "phone": {"number": {"type": "plain_text_input", "value": "+1415"}}
        }
    if "actions" in real:
        assert set(real["actions"][0]) <= set(payload["actions"][0])
        assert set(real["container"]) <= set(payload["container"])


def test_block_action_takes_block_and_value_from_the_clicked_message() -> None:
    driver = SlackDriver(SECRET)
    message = {
        "type": "message",
        "ts": "1700000000.000100",
        "thread_ts": "1700000000.000100",
        "blocks": [
            {
                "type": "actions",
                "block_id": "conv_buttons",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "resolve",
                        "value": "conv-7",
                        "text": {"type": "plain_text", "text": "Resolve"},
                    }
                ],
            }
        ],
    }

    payload = driver.block_action(
        "resolve", user_id=AGENT, channel_id=SUPPORT, message=message
    ).payload

    [action] = payload["actions"]
    assert action["block_id"] == "conv_buttons" and action["value"] == "conv-7"
    assert action["text"]["text"] == "Resolve"
    assert payload["container"]["message_ts"] == "1700000000.000100"
    assert payload["message"] == message


def test_prepared_unpacks_as_body_and_headers() -> None:
    driver = SlackDriver(SECRET)
    body, headers = driver.url_verification("abc")
    assert json.loads(body) == {
        "token": "legacy-verification-token",
        "challenge": "abc",
        "type": "url_verification",
    }
    assert set(headers) >= {"Content-Type", "X-Slack-Request-Timestamp", "X-Slack-Signature"}


def test_retry_headers() -> None:
    driver = SlackDriver(SECRET)
    first = driver.event(driver.message(channel=SUPPORT, user=AGENT, text="hi"))
    retried = driver.event(
        first.payload["event"],
        event_id=first.payload["event_id"],
        retry_num=2,
        retry_reason="http_error",
    )
    redelivered = driver.redeliver(first, retry_num=1)

    assert retried.headers["X-Slack-Retry-Num"] == "2"
    assert retried.headers["X-Slack-Retry-Reason"] == "http_error"
    assert redelivered.body == first.body
    assert redelivered.headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert "X-Slack-Retry-Num" not in first.headers


def test_message_ts_is_increasing_and_well_formed() -> None:
    driver = SlackDriver(SECRET, clock=lambda: 1_700_000_000.0)
    stamps = [driver.next_ts() for _ in range(3)]
    assert stamps == ["1700000000.000059", "1700000000.000159", "1700000000.000259"]


# ---------------------------------------------------------------- through a real Bolt app


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        running.add_user(ADMIN, name="ada", is_admin=True)
        running.add_user(AGENT, name="sam")
        running.add_channel(SUPPORT, "support", members=[ADMIN, AGENT])
        yield running


class Seen:
    """What the listeners of the test app were handed."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.retries: list[str | None] = []
        self.actions: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.shortcuts: list[dict[str, Any]] = []


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def app(standin: SlackStandIn, seen: Seen) -> App:
    # The token comes from the client; passing token= as well only makes Bolt log a warning.
    bolt = App(
        client=WebClient(token=standin.bot_token, base_url=standin.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @bolt.command("/wati")
    def handle_wati_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        seen.commands.append(command)
        respond(f"Linked {command['text'].removeprefix('link ')}")

    @bolt.message("")
    def handle_message(message: dict[str, Any], say: Any, request: BoltRequest) -> None:
        seen.messages.append(message)
        seen.retries.append(next(iter(request.headers.get("x-slack-retry-num", [])), None))
        say(text="Sent to WhatsApp", thread_ts=message.get("thread_ts") or message["ts"])

    @bolt.action("resolve")
    def handle_resolve(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        seen.actions.append(body)
        client.chat_update(
            channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="Resolved"
        )

    @bolt.view("new_chat")
    def handle_new_chat(ack: Any, view: dict[str, Any]) -> None:
        seen.views.append(view)
        number = view["state"]["values"]["phone"]["number"]["value"]
        if not number.lstrip("+").isdigit():
            ack(response_action="errors", errors={"phone": "Not a valid number"})
            return
        ack()

    @bolt.shortcut("new_whatsapp_chat")
    def handle_shortcut(ack: Any, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        seen.shortcuts.append(shortcut)
        client.views_open(
            trigger_id=shortcut["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "new_chat",
                "title": {"type": "plain_text", "text": "New chat"},
                "blocks": [],
            },
        )

    @bolt.shortcut("forward_to_whatsapp")
    def handle_forward(ack: Any, shortcut: dict[str, Any], respond: Any) -> None:
        ack()
        seen.shortcuts.append(shortcut)
        respond("Forwarded")

    return bolt


def dispatch(app: App, prepared: Any) -> Any:
    body, headers = prepared
    return app.dispatch(BoltRequest(body=body, headers=headers))


def test_bolt_handles_a_slash_command(app: App, standin: SlackStandIn, seen: Seen) -> None:
    driver = SlackDriver(SECRET)
    url = standin.response_url(channel=SUPPORT)

    response = dispatch(
        app,
        driver.slash_command(
            "link +1 415-555-0100", user_id=ADMIN, channel_id=SUPPORT, response_url=url
        ),
    )

    assert response.status == 200
    assert seen.commands[0]["user_id"] == ADMIN and seen.commands[0]["channel_id"] == SUPPORT
    assert [e["text"] for e in standin.ephemerals(SUPPORT)] == ["Linked +1 415-555-0100"]


def test_bolt_handles_messages_and_sees_retry_headers(
    app: App, standin: SlackStandIn, seen: Seen
) -> None:
    driver = SlackDriver(SECRET)
    parent = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="parent"))
    reply = driver.message(channel=SUPPORT, user=AGENT, text="hi Maria", thread_ts=parent["ts"])
    standin.add_message(reply)
    first = driver.event(reply)

    assert dispatch(app, first).status == 200
    assert dispatch(app, driver.redeliver(first, retry_num=1)).status == 200

    assert [m["text"] for m in seen.messages] == ["hi Maria", "hi Maria"]
    assert seen.retries == [None, "1"]
    thread = standin.replies(SUPPORT, parent["ts"])
    assert [m["text"] for m in thread] == [
        "parent",
        "hi Maria",
        "Sent to WhatsApp",
        "Sent to WhatsApp",
    ]


def test_bolt_ignores_the_bots_own_messages(app: App, standin: SlackStandIn, seen: Seen) -> None:
    driver = SlackDriver(SECRET)
    own = driver.message(
        channel=SUPPORT, user=standin.bot_user_id, text="from WhatsApp", bot_id=standin.bot_id
    )

    response = dispatch(app, driver.event(own))

    assert response.status == 200 and seen.messages == []


def test_bolt_handles_a_button_click(app: App, standin: SlackStandIn, seen: Seen) -> None:
    driver = SlackDriver(SECRET)
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    ts = client.chat_postMessage(channel=SUPPORT, text="Maria · +1 415-555-0100")["ts"]

    response = dispatch(
        app, driver.block_action("resolve", user_id=AGENT, channel_id=SUPPORT, message_ts=ts)
    )

    assert response.status == 200 and seen.actions[0]["user"]["id"] == AGENT
    assert standin.messages(SUPPORT)[0]["text"] == "Resolved"


def test_bolt_handles_view_submissions_with_and_without_errors(app: App, seen: Seen) -> None:
    driver = SlackDriver(SECRET)

    bad = dispatch(
        app, driver.view_submission("new_chat", user_id=AGENT, values={"phone": {"number": "abc"}})
    )
    good = dispatch(
        app,
        driver.view_submission(
            "new_chat", user_id=AGENT, values={"phone": {"number": "+14155550100"}}
        ),
    )

    assert bad.status == 200
    assert json.loads(bad.body) == {
        "response_action": "errors",
        "errors": {"phone": "Not a valid number"},
    }
    assert good.status == 200 and good.body == ""
    assert len(seen.views) == 2


def test_bolt_handles_global_and_message_shortcuts(
    app: App, standin: SlackStandIn, seen: Seen
) -> None:
    driver = SlackDriver(SECRET)
    message = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="fwd me"))
    url = standin.response_url(channel=SUPPORT)

    global_response = dispatch(app, driver.shortcut("new_whatsapp_chat", user_id=AGENT))
    message_response = dispatch(
        app,
        driver.message_action(
            "forward_to_whatsapp",
            user_id=AGENT,
            channel_id=SUPPORT,
            message=message,
            response_url=url,
        ),
    )

    assert global_response.status == 200 and message_response.status == 200
    assert [v["callback_id"] for v in standin.views] == ["new_chat"]
    assert seen.shortcuts[1]["message"]["ts"] == message["ts"]
    assert [r["text"] for r in standin.responses] == ["Forwarded"]


def test_bolt_refuses_bad_and_stale_signatures(app: App, seen: Seen) -> None:
    driver = SlackDriver(SECRET)
    wrong_secret = SlackDriver("not-the-secret")
    stale = SlackDriver(SECRET, clock=lambda: time.time() - 6 * 60)
    event = driver.message(channel=SUPPORT, user=AGENT, text="hi")
    tampered_body, headers = driver.event(event)

    responses = [
        dispatch(app, wrong_secret.event(event)),
        dispatch(app, stale.event(event)),
        dispatch(app, stale.slash_command("status", user_id=ADMIN, channel_id=SUPPORT)),
        app.dispatch(BoltRequest(body=tampered_body.replace("hi", "ho"), headers=headers)),
    ]

    assert [r.status for r in responses] == [401, 401, 401, 401]
    assert seen.messages == [] and seen.commands == []


def test_bolt_answers_url_verification(app: App) -> None:
    response = dispatch(app, SlackDriver(SECRET).url_verification("3eZbrw1aBm2rZgRNFd"))
    assert response.status == 200 and json.loads(response.body) == {
        "challenge": "3eZbrw1aBm2rZgRNFd"
    }


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def events_url(app: App) -> Iterator[str]:
    """A minimal HTTP adapter: POST /slack/events → app.dispatch (what web.py does for real)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            response = app.dispatch(BoltRequest(body=body, headers=dict(self.headers.items())))
            payload = response.body.encode()
            self.send_response(response.status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_post_delivers_over_http(events_url: str, standin: SlackStandIn, seen: Seen) -> None:
    driver = SlackDriver(SECRET, url=events_url, response_url_factory=standin.response_url)
    event = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="over http"))

    via_driver = driver.post(driver.event({**event, "channel": SUPPORT}))
    via_prepared = driver.slash_command("status", user_id=ADMIN, channel_id=SUPPORT).post()
    refused = (
        SlackDriver("wrong", url=events_url).shortcut("new_whatsapp_chat", user_id=AGENT).post()
    )

    assert via_driver.status_code == 200 and via_prepared.status_code == 200
    assert refused.status_code == 401
    assert [m["text"] for m in seen.messages] == ["over http"]
    assert seen.commands[0]["text"] == "status"
    assert [e["text"] for e in standin.ephemerals(SUPPORT)] == ["Linked status"]


def test_post_needs_a_url() -> None:
    driver = SlackDriver(SECRET)
    with pytest.raises(RuntimeError, match="url"):
        driver.shortcut("x", user_id=AGENT).post()


def test_default_response_urls_can_come_from_the_stand_in(standin: SlackStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    ts = client.chat_postMessage(channel=SUPPORT, text="Resolve?")["ts"]
    driver = SlackDriver(SECRET, response_url_factory=standin.response_url)

    clicked = driver.block_action("resolve", user_id=AGENT, channel_id=SUPPORT, message_ts=ts)
    command = driver.slash_command("help", user_id=AGENT, channel_id=SUPPORT)
    WebhookClient(clicked.payload["response_url"]).send(text="Resolved", replace_original=True)
    WebhookClient(command.payload["response_url"]).send(text="Usage: /wati link <number>")

    assert [m["text"] for m in standin.messages(SUPPORT)] == ["Resolved"]
    assert [e["text"] for e in standin.ephemerals(SUPPORT)] == ["Usage: /wati link <number>"]
