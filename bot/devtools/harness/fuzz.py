"""Generated input for every surface (hypothesis, a dev dependency, imported lazily): the fuzz
properties shared by tests/reliability/test_fuzz.py and `bench/soak.py`.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.devtools.harness.inproc import (
    ManualClock,
    ScriptedWati,
    dispatch_sender,
    drive,
    on_clock,
    spy_errors,
)
from bot.devtools.harness.traffic import Traffic
from bot.devtools.harness.world import (
    ADMIN,
    AGENT,
    ANA,
    BOT_TOKEN,
    NUMBER_A,
    NUMBER_B,
    OWNER,
    SIGNING_SECRET,
    SLACK_A,
    SLACK_B,
    WATI_TOKEN,
)
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import blocks
from bot.wati.limits import RateWindow


@dataclass
class FuzzWorld:
    """An in-process bridge on a manual clock (Bolt listeners run inside dispatch) with two
    linked channels and Ana's thread in each, plus a second bridge fed by a scripted Wati."""

    bridge: Bridge
    sandbox: Sandbox
    slack: SlackStandIn
    driver: SlackDriver
    clock: ManualClock
    traffic: Traffic
    errors: list[Exception]
    scripted: ScriptedWati
    wati_bridge: Bridge
    wati_errors: list[Exception]

    def dispatch(self, prepared: Prepared) -> int:
        return prepared.dispatch(self.bridge.app).status


@contextlib.contextmanager
def fuzz_world(tmp: Path) -> Iterator[FuzzWorld]:
    from bot.config import Settings
    from bot.service import build

    tmp.mkdir(parents=True, exist_ok=True)
    clock = ManualClock()
    sandbox = Sandbox(tmp / "wati.db", token=WATI_TOKEN, channels=(NUMBER_A, NUMBER_B), clock=clock)
    sandbox.monthly_quota = 10**9
    slack = SlackStandIn(bot_token=BOT_TOKEN)
    for user, name, admin in ((ADMIN, "ada", True), (AGENT, "sam", False), (OWNER, "otto", False)):
        slack.add_user(user, name=name, is_admin=admin, is_owner=user == OWNER)
    slack.add_channel(SLACK_A, "support")
    slack.add_channel(SLACK_B, "sales")
    with sandbox, slack:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "WATI_API_ENDPOINT": sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": WATI_TOKEN,
            "BRIDGE_DB": str(tmp / "bridge.db"),
            "BRIDGE_WATI_MONTHLY_CALLS": "100000000",
        }
        settings = Settings.from_env(env)
        bridge = build(settings, clock=clock, process_before_response=True, slack_min_interval=0.0)
        scripted = ScriptedWati()
        wati_bridge = build(
            Settings.from_env({**env, "BRIDGE_DB": str(tmp / "scripted.db")}),
            clock=clock,
            wati_transport=scripted,
            process_before_response=True,
            slack_min_interval=0.0,
        )
        try:
            driver = SlackDriver(
                SIGNING_SECRET, clock=clock, response_url_factory=slack.response_url
            )
            for each in (bridge, wati_bridge):
                each.store.link(NUMBER_A, SLACK_A, ADMIN)
                each.store.link(NUMBER_B, SLACK_B, ADMIN)
                on_clock(each, clock)
            clock.advance(1)
            chats = ((NUMBER_A, ANA), (NUMBER_B, ANA))
            send = dispatch_sender(bridge)
            traffic = Traffic(sandbox, slack, driver, random.Random(1), send, chats)
            traffic.greet()
            drive(bridge, traffic, clock.advance)
            yield FuzzWorld(
                bridge,
                sandbox,
                slack,
                driver,
                clock,
                traffic,
                spy_errors(bridge),
                scripted,
                wati_bridge,
                spy_errors(wati_bridge),
            )
        finally:
            wati_bridge.shutdown()
            bridge.shutdown()


def _fuzz_settings(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _strategies() -> Any:
    """Strategies shared by the properties (built lazily: hypothesis is a dev dependency)."""
    from hypothesis import strategies as st

    nasty = st.sampled_from(
        [
            "<!channel>",
            "<!here>",
            "<@U0ADMIN>",
            "<#C0SALES>",
            "&amp;",
            "*b* _i_ ~s~ ```x```",
            "\u202e",
            "\x00",
            "💥" * 5,
            "a" * 5000,
            "+1 415-555-0100",
            "link",
            "unlink",
        ]
    )
    text = st.one_of(st.text(max_size=80), nasty, st.lists(nasty, max_size=4).map(" ".join))
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text)
    json = st.recursive(
        leaf,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=10,
    )
    return st, text, json


def fuzz_slash_commands(world: FuzzWorld, n: int) -> int:
    """`/wati <anything>` from anyone, anywhere: always an answer, never a crash."""
    from hypothesis import given

    st, text, _ = _strategies()
    words = st.sampled_from(["link", "unlink", "status", "help", "LINK", "", "frobnicate"])
    counted = [0]

    @_fuzz_settings(n)
    @given(
        head=words,
        rest=text,
        user=st.sampled_from([ADMIN, AGENT, OWNER, "U0NOBODY"]),
        channel=st.sampled_from([SLACK_A, SLACK_B, "C0UNKNOWN", "D0DIRECT"]),
    )
    def prop(head: str, rest: str, user: str, channel: str) -> None:
        counted[0] += 1
        mark = len(world.errors)
        slack = world.slack
        before = len(slack.responses) + len(slack.views) + len(slack.ephemerals())
        url = slack.response_url(channel=channel)
        command = world.driver.slash_command(
            f"{head} {rest}", user_id=user, channel_id=channel, response_url=url
        )
        assert world.dispatch(command) == 200
        assert world.errors[mark:] == [], world.errors[mark:]
        said = len(slack.responses) + len(slack.views) + len(slack.ephemerals())
        assert said > before, f"no answer to /wati {head} {rest!r}"

    prop()
    return counted[0]


def fuzz_message_events(world: FuzzWorld, n: int) -> int:
    """Any message event: recorded only when it is a person's reply in a linked thread."""
    from hypothesis import given

    st, text, json = _strategies()
    parents = [t[1] for t in world.traffic.open_threads()]
    ts = st.one_of(st.sampled_from(parents), st.text(max_size=20), st.none(), st.integers())
    channel = st.sampled_from([SLACK_A, SLACK_B, "C0UNKNOWN", "", None])
    subtype = st.sampled_from(
        [
            None,
            "file_share",
            "thread_broadcast",
            "message_changed",
            "message_deleted",
            "bot_message",
            "channel_join",
            "me_message",
            "huddle_thread",
        ]
    )
    file = st.fixed_dictionaries(
        {},
        optional={
            "id": text,
            "name": text,
            "size": st.one_of(st.integers(), text),
            "mimetype": text,
            "url_private_download": st.sampled_from(
                [f"{world.slack.url}/files-pri/T-F1/x.png", "https://evil.example/x", "", "x"]
            ),
        },
    )
    event = st.fixed_dictionaries(
        {"type": st.just("message")},
        optional={
            "channel": channel,
            "user": st.sampled_from([AGENT, ADMIN, "", None]),
            "text": text,
            "ts": ts,
            "thread_ts": ts,
            "subtype": subtype,
            "bot_id": st.sampled_from(["B0OTHER", None]),
            "files": st.one_of(st.lists(file, max_size=2), json),
            "message": st.one_of(
                json,
                st.fixed_dictionaries(
                    {
                        "ts": ts,
                        "thread_ts": ts,
                        "user": st.just(AGENT),
                        "text": text,
                        "edited": json,
                    }
                ),
            ),
            "previous_message": json,
        },
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(event=event, event_id=st.one_of(st.none(), st.sampled_from(["Ev1", "Ev2"]), text))
    def prop(event: dict[str, Any], event_id: str | None) -> None:
        counted[0] += 1
        mark = len(world.errors)
        prepared = world.driver.event(event, event_id=event_id or None)
        assert world.dispatch(prepared) == 200
        assert world.errors[mark:] == [], world.errors[mark:]

    prop()
    world.bridge.outbound.process()
    assert world.errors == []
    # Only people's replies in the bridge's own threads were recorded, and none went twice.
    store = world.bridge.store
    threads = {(t.slack_channel_id, t.thread_ts) for t in store.open_threads()}
    for row in store.query("select * from outbox"):
        thread = store.thread(row["thread_id"])
        assert thread is not None and (row["slack_channel_id"], thread.thread_ts) in threads
    local_ids = Counter(m["localMessageId"] for m in world.sandbox.sent_by_api())
    assert all(count == 1 for count in local_ids.values()), local_ids
    for local_id in local_ids:
        assert store.reply_by_local_id(str(local_id).split(".")[0]) is not None
    return counted[0]


def fuzz_interactions(world: FuzzWorld, n: int) -> int:
    """Button clicks and modal submissions with any values: never a crash."""
    from hypothesis import given

    from bot.slack import modals

    st, text, json = _strategies()
    found = {
        value
        for module in (blocks, modals)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and value.startswith("wati_")
    }
    ids = st.one_of(st.sampled_from(sorted(found)), text)
    parents = [t[1] for t in world.traffic.open_threads()]
    value = st.one_of(
        text, st.integers().map(str), st.sampled_from(["1", "2", "-1", "9" * 40, "1.5"])
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(
        kind=st.sampled_from(["action", "view"]),
        action_id=ids,
        value=value,
        user=st.sampled_from([ADMIN, AGENT, "U0NOBODY"]),
        channel=st.sampled_from([SLACK_A, SLACK_B, "C0UNKNOWN"]),
        thread_ts=st.one_of(st.none(), st.sampled_from(parents)),
        metadata=st.one_of(text, json.map(lambda j: __import__("json").dumps(j))),
        values=st.dictionaries(
            text, st.dictionaries(text, st.one_of(text, json), max_size=3), max_size=3
        ),
    )
    def prop(
        kind: str,
        action_id: str,
        value: str,
        user: str,
        channel: str,
        thread_ts: str | None,
        metadata: str,
        values: dict[str, dict[str, Any]],
    ) -> None:
        counted[0] += 1
        mark = len(world.errors)
        if kind == "action":
            prepared = world.driver.block_action(
                action_id, user_id=user, channel_id=channel, value=value, thread_ts=thread_ts
            )
        else:
            clean = {
                block: {
                    action: {"type": "plain_text_input", **state}
                    if isinstance(state, dict)
                    else {"type": "plain_text_input", "value": state}
                    for action, state in actions.items()
                }
                for block, actions in values.items()
            }
            prepared = world.driver.view_submission(
                action_id, user_id=user, values=clean, private_metadata=metadata
            )
        assert world.dispatch(prepared) in (200, 404)
        assert world.errors[mark:] == [], world.errors[mark:]

    prop()
    return counted[0]


def _message_item(st: Any, text: Any, json: Any) -> Any:
    stamp = st.one_of(
        st.datetimes().map(lambda d: d.isoformat()),
        st.integers(min_value=-(10**15), max_value=10**15),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.sampled_from(["2024-05-14T10:00:00.1234567Z", "1715680800", "May-14-2024", ""]),
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.text(max_size=24), st.integers(), st.none()),
            "created": stamp,
            "timestamp": stamp,
            "eventType": st.sampled_from(["message", "broadcastMessage", "ticket", "", "x"]),
            "type": st.sampled_from(
                [
                    "text",
                    "image",
                    "video",
                    "audio",
                    "document",
                    "location",
                    "contacts",
                    "sticker",
                    "interactive",
                    "button",
                    "unknown",
                    "",
                ]
            ),
            "text": st.one_of(text, json),
            "finalText": text,
            "data": st.one_of(text, json),
            "owner": st.one_of(st.booleans(), st.sampled_from(["true", "false", 1, 0, None])),
            "statusString": st.sampled_from(["SENT", "DELIVERED", "READ", "FAILED", "", None]),
            "operatorName": text,
            "localMessageId": text,
            "failedDetail": text,
        },
    )


def fuzz_wati_messages(world: FuzzWorld, n: int) -> int:
    """Any getMessages answer, through the client's parser and the relay: no crash, no ping."""
    from hypothesis import given

    from bot.wati.types import parse_message

    st, text, json = _strategies()
    item = st.one_of(_message_item(st, text, json), json)
    body = st.one_of(
        st.lists(item, max_size=5).map(
            lambda items: {"result": "success", "messages": {"items": items, "total": len(items)}}
        ),
        json,
    )
    counted = [0]
    relay = world.wati_bridge.poller
    slack = world.slack

    @_fuzz_settings(n)
    @given(body=body, raw=st.booleans())
    def prop(body: Any, raw: bool) -> None:
        import json as jsonlib

        counted[0] += 1
        for each in (
            (body.get("messages") or {}).get("items", [])
            if isinstance(body, dict) and isinstance(body.get("messages"), dict)
            else []
        ):
            parse_message(each)  # never raises
        world.scripted.messages = (
            jsonlib.dumps(body).encode() if not raw else jsonlib.dumps(body)[:40].encode()
        )
        before = len(slack.calls_to("chat.postMessage"))
        relay.wake(NUMBER_A, ANA)
        relay.poll_number(NUMBER_A)  # never raises
        for call in slack.calls_to("chat.postMessage")[before:]:
            meta = str(call.args.get("metadata") or "")
            if blocks.MESSAGE_EVENT in meta:
                posted = str(call.args.get("text") or "")
                assert not any(tag in posted for tag in ("<!", "<@", "<#")), posted
        world.clock.advance(1)

    prop()
    return counted[0]


def fuzz_wati_contacts(world: FuzzWorld, n: int) -> int:
    """Any getContacts answer, through the parser and discovery: no crash."""
    from hypothesis import given

    from bot.wati.types import parse_contact

    st, text, json = _strategies()
    contact = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.one_of(text, st.integers(), st.none()),
                "wAid": st.one_of(text, st.sampled_from([ANA, "+44 7700", "", "x" * 40])),
                "phone": text,
                "fullName": text,
                "firstName": text,
                "lastUpdated": st.one_of(text, st.integers(), st.datetimes().map(str)),
                "created": text,
                "customParams": st.one_of(
                    json, st.lists(st.dictionaries(text, json, max_size=3), max_size=3)
                ),
            },
        ),
        json,
    )
    body = st.one_of(
        st.lists(contact, max_size=5).map(lambda cs: {"result": "success", "contact_list": cs}),
        json,
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(body=body)
    def prop(body: Any) -> None:
        import json as jsonlib

        counted[0] += 1
        if isinstance(body, dict) and isinstance(body.get("contact_list"), list):
            for each in body["contact_list"]:
                parse_contact(each)  # never raises
        world.scripted.contacts = jsonlib.dumps(body).encode()
        world.wati_bridge.windows.contacts = RateWindow(limit=10**9)
        world.wati_bridge.poller.discover()  # never raises
        world.wati_bridge.poller.discover(sweep=True)

    prop()
    return counted[0]


def fuzz_phone_numbers(world: FuzzWorld, n: int) -> int:
    """Anything typed as a number: digits with a country code, or a clear refusal."""
    from hypothesis import given

    from bot.text import phone

    st, text, _ = _strategies()
    typed = st.one_of(
        text,
        st.text(alphabet="0123456789 +-().٠١٢３４\u200b", max_size=25),
        st.from_regex(r"\+?[0-9 ()\-]{0,20}", fullmatch=True),
        st.sampled_from(["<tel:+14155550100|+1 415 555 0100>", "+1 415-555-0100", "00441234"]),
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(typed=typed)
    def prop(typed: str) -> None:
        counted[0] += 1
        try:
            digits = phone.normalise(typed)
        except phone.InvalidNumber as refused:
            assert str(refused) and "country code" in str(refused)
            return
        # Digits with a country code first; phonenumbers decides what is "possible" (some
        # countries allow very short numbers, and runs of zeros slip through as they are).
        assert digits.isascii() and digits.isdigit() and 4 <= len(digits) <= 17, digits
        assert not digits.startswith("0"), digits
        assert phone.display(digits).startswith("+")

    prop()
    return counted[0]


FUZZ: dict[str, Callable[[FuzzWorld, int], int]] = {
    "slash commands": fuzz_slash_commands,
    "message events": fuzz_message_events,
    "buttons and modals": fuzz_interactions,
    "Wati messages": fuzz_wati_messages,
    "Wati contacts": fuzz_wati_contacts,
    "phone numbers": fuzz_phone_numbers,
}
