"""The local Slack Web API stand-in, exercised through a real slack_sdk WebClient."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.common import DEFAULT_SCOPES
from bot.devtools.slack_standin.server import SlackStandIn

SUPPORT, PRIVATE, OUTSIDE = "C0SUPPORT", "G0PRIVATE", "C0OUTSIDE"
ADMIN, AGENT, STRANGER = "U0ADMIN", "U0AGENT", "U0STRANGER"
TS = re.compile(r"^\d{10}\.\d{6}$")


def make_standin(**kwargs: object) -> SlackStandIn:
    standin = SlackStandIn(**kwargs)  # type: ignore[arg-type]
    standin.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
    standin.add_user(AGENT, name="sam", real_name="Sam Agent")
    standin.add_channel(SUPPORT, "support", members=[ADMIN, AGENT])
    standin.add_channel(PRIVATE, "vip", members=[ADMIN])
    standin.add_channel(OUTSIDE, "random", bot_is_member=False)
    return standin


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with make_standin() as running:
        yield running


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=standin.bot_token, base_url=standin.api_url)


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()  # type: ignore[operator]
    return str(raised.value.response["error"])


# ---------------------------------------------------------------- auth and plumbing


def test_auth_test_returns_the_bot_identity_and_its_scopes(
    standin: SlackStandIn, client: WebClient
) -> None:
    response = client.auth_test()

    assert response["user_id"] == "UBRIDGEBOT"
    assert response["bot_id"] == "BBRIDGEBOT"
    assert response["team_id"] == "T0STANDIN"
    assert response["url"].startswith(standin.url)
    assert response.headers["x-oauth-scopes"].split(",") == list(DEFAULT_SCOPES)


def test_a_wrong_or_missing_token_is_refused(standin: SlackStandIn) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=standin.api_url)
    assert error_of(wrong.auth_test) == "invalid_auth"
    anonymous = WebClient(base_url=standin.api_url)
    assert error_of(lambda: anonymous.api_call("auth.test")) == "not_authed"
    assert [c.ok for c in standin.calls] == [False, False]


def test_unknown_and_retired_methods(client: WebClient) -> None:
    assert error_of(lambda: client.api_call("chat.teleport")) == "unknown_method"
    assert error_of(lambda: client.api_call("files.upload")) == "method_deprecated"


def test_form_json_and_token_argument_bodies_are_all_accepted(standin: SlackStandIn) -> None:
    api = standin.api_url
    form = httpx.post(
        api + "chat.postMessage",
        data={"token": standin.bot_token, "channel": SUPPORT, "text": "form"},
    )
    as_json = httpx.post(
        api + "chat.postMessage",
        json={
            "channel": SUPPORT,
            "text": "json",
            "metadata": {"event_type": "t", "event_payload": {}},
        },
        headers={"Authorization": f"Bearer {standin.bot_token}"},
    )
    bad_json = httpx.post(
        api + "chat.postMessage",
        content=b"{nope",
        headers={
            "Authorization": f"Bearer {standin.bot_token}",
            "Content-Type": "application/json",
        },
    )

    assert form.json()["ok"] and as_json.json()["ok"]
    assert bad_json.json() == {"ok": False, "error": "invalid_json"}
    assert [m["text"] for m in standin.messages(SUPPORT)] == ["form", "json"]
    assert standin.calls_to("chat.postMessage")[1].args["metadata"] == {
        "event_type": "t",
        "event_payload": {},
    }


def test_calls_are_recorded_with_args_headers_and_outcome(
    standin: SlackStandIn, client: WebClient
) -> None:
    client.chat_postMessage(channel=SUPPORT, text="hi")
    error_of(lambda: client.chat_postMessage(channel="C0NOWHERE", text="hi"))

    first, second = standin.calls_to("chat.postMessage")
    assert first.args["text"] == "hi" and first.ok and first.response["ts"]
    assert first.headers["Authorization"] == f"Bearer {standin.bot_token}"
    assert not second.ok and second.response["error"] == "channel_not_found"
    assert second.at >= first.at
    standin.clear_calls()
    assert standin.calls == []


# ---------------------------------------------------------------- chat.*


def test_post_message_stores_what_slack_stores(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Maria*"}}]
    first = client.chat_postMessage(
        channel=SUPPORT,
        text="Maria wrote",
        blocks=blocks,
        username="Maria (WhatsApp)",
        icon_emoji=":iphone:",
        metadata={"event_type": "wa_message", "event_payload": {"wa_id": "wamid.1"}},
    )
    second = client.chat_postMessage(channel=SUPPORT, text="again")

    assert TS.match(first["ts"]) and TS.match(second["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["channel"] == SUPPORT
    [stored, _] = standin.messages(SUPPORT)
    assert stored["ts"] == first["ts"] == first["message"]["ts"]
    assert stored["text"] == "Maria wrote" and stored["blocks"] == blocks
    assert stored["user"] == "UBRIDGEBOT" and stored["bot_id"] == "BBRIDGEBOT"
    assert stored["username"] == "Maria (WhatsApp)" and stored["icons"] == {"emoji": ":iphone:"}
    assert stored["metadata"] == {"event_type": "wa_message", "event_payload": {"wa_id": "wamid.1"}}


def test_post_message_errors(client: WebClient) -> None:
    assert error_of(lambda: client.chat_postMessage(channel="C0NONE", text="x")) == (
        "channel_not_found"
    )
    assert error_of(lambda: client.chat_postMessage(channel=OUTSIDE, text="x")) == "not_in_channel"
    assert (
        error_of(lambda: client.api_call("chat.postMessage", json={"channel": SUPPORT}))
        == "no_text"
    )
    assert error_of(
        lambda: client.chat_postMessage(channel=SUPPORT, text="x", blocks=[{"x": 1}])
    ) == ("invalid_blocks")
    bad_metadata = {"event_type": "x"}
    assert error_of(
        lambda: client.chat_postMessage(channel=SUPPORT, text="x", metadata=bad_metadata)
    ) == ("invalid_metadata_format")


def test_private_channels_the_bot_is_not_in_are_invisible() -> None:
    with make_standin() as standin:
        standin.add_channel("G0SECRET", "secret", bot_is_member=False)
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        assert error_of(lambda: client.chat_postMessage(channel="G0SECRET", text="x")) == (
            "channel_not_found"
        )
        assert error_of(lambda: client.conversations_info(channel="G0SECRET")) == (
            "channel_not_found"
        )


def test_customisation_is_ignored_without_chat_write_customize() -> None:
    scopes = [s for s in DEFAULT_SCOPES if s != "chat:write.customize"]
    with make_standin(scopes=scopes) as standin:
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        client.chat_postMessage(channel=SUPPORT, text="x", username="Maria", icon_url="http://i")
        [stored] = standin.messages(SUPPORT)
        assert "username" not in stored and "icons" not in stored


def test_a_missing_scope_is_reported_like_slack(standin: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.conversations_join(channel=OUTSIDE)
    assert raised.value.response["error"] == "missing_scope"
    assert raised.value.response["needed"] == "channels:join"


def test_threads_replies_and_broadcasts(standin: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=SUPPORT, text="New chat with Maria")["ts"]
    reply = client.chat_postMessage(channel=SUPPORT, text="hello", thread_ts=parent)
    broadcast = client.chat_postMessage(
        channel=SUPPORT, text="also in channel", thread_ts=parent, reply_broadcast=True
    )

    assert reply["message"]["thread_ts"] == parent
    assert reply["message"]["parent_user_id"] == "UBRIDGEBOT"
    assert broadcast["message"]["subtype"] == "thread_broadcast"
    top = standin.messages(SUPPORT)
    assert [m["text"] for m in top] == ["New chat with Maria", "also in channel"]
    assert top[0]["reply_count"] == 2 and top[0]["latest_reply"] == broadcast["ts"]
    assert top[0]["reply_users"] == ["UBRIDGEBOT"]
    thread = standin.replies(SUPPORT, parent)
    assert [m["text"] for m in thread] == ["New chat with Maria", "hello", "also in channel"]


def test_thread_ts_must_name_a_parent(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=SUPPORT, text="parent")["ts"]
    reply = client.chat_postMessage(channel=SUPPORT, text="reply", thread_ts=parent)["ts"]

    assert error_of(
        lambda: client.chat_postMessage(channel=SUPPORT, text="x", thread_ts="1700000000.000100")
    ) == ("thread_not_found")
    assert error_of(
        lambda: client.chat_postMessage(channel=SUPPORT, text="x", thread_ts=reply)
    ) == ("cannot_reply_to_message")


def test_metadata_round_trips_through_conversations_replies(client: WebClient) -> None:
    metadata = {"event_type": "wa_message", "event_payload": {"wa_id": "wamid.7", "n": 7}}
    parent = client.chat_postMessage(channel=SUPPORT, text="parent", metadata=metadata)["ts"]
    client.chat_postMessage(
        channel=SUPPORT,
        text="reply",
        thread_ts=parent,
        metadata={"event_type": "wa_message", "event_payload": {"wa_id": "wamid.8"}},
    )

    with_metadata = client.conversations_replies(
        channel=SUPPORT, ts=parent, include_all_metadata=True
    )
    without = client.conversations_replies(channel=SUPPORT, ts=parent)

    assert [m["metadata"]["event_payload"]["wa_id"] for m in with_metadata["messages"]] == [
        "wamid.7",
        "wamid.8",
    ]
    assert with_metadata["messages"][0]["metadata"] == metadata
    assert all("metadata" not in m for m in without["messages"])


def test_conversations_history_is_newest_first_and_paginates(client: WebClient) -> None:
    sent = [client.chat_postMessage(channel=SUPPORT, text=f"m{i}")["ts"] for i in range(5)]
    client.chat_postMessage(channel=SUPPORT, text="reply", thread_ts=sent[0])

    first = client.conversations_history(channel=SUPPORT, limit=2)
    second = client.conversations_history(
        channel=SUPPORT, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    window = client.conversations_history(channel=SUPPORT, oldest=sent[1], latest=sent[3])
    inclusive = client.conversations_history(
        channel=SUPPORT, oldest=sent[1], latest=sent[3], inclusive=True
    )

    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    assert [m["text"] for m in window["messages"]] == ["m2"]
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    assert error_of(lambda: client.conversations_history(channel=OUTSIDE)) == "not_in_channel"


def test_conversations_replies_paginates_and_accepts_a_reply_ts(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=SUPPORT, text="p")["ts"]
    replies = [
        client.chat_postMessage(channel=SUPPORT, text=f"r{i}", thread_ts=parent)["ts"]
        for i in range(3)
    ]

    page = client.conversations_replies(channel=SUPPORT, ts=parent, limit=2)
    rest = client.conversations_replies(
        channel=SUPPORT, ts=parent, cursor=page["response_metadata"]["next_cursor"]
    )
    by_reply = client.conversations_replies(channel=SUPPORT, ts=replies[1])

    assert [m["text"] for m in page["messages"]] == ["p", "r0"] and page["has_more"]
    assert [m["text"] for m in rest["messages"]] == ["r1", "r2"] and not rest["has_more"]
    assert len(by_reply["messages"]) == 4
    assert error_of(lambda: client.conversations_replies(channel=SUPPORT, ts="1.000100")) == (
        "thread_not_found"
    )


def test_update_and_delete(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Maria"}}]
    ts = client.chat_postMessage(channel=SUPPORT, text="open", blocks=blocks)["ts"]

    updated = client.chat_update(channel=SUPPORT, ts=ts, text="resolved")

    assert updated["ts"] == ts and updated["text"] == "resolved"
    [stored] = standin.messages(SUPPORT)
    assert stored["text"] == "resolved" and stored["blocks"] == blocks  # absent blocks are kept
    assert stored["edited"]["user"] == "UBRIDGEBOT"
    client.chat_update(channel=SUPPORT, ts=ts, text="no blocks", blocks=[])
    assert standin.messages(SUPPORT)[0]["blocks"] == []

    client.chat_delete(channel=SUPPORT, ts=ts)
    assert standin.messages(SUPPORT) == []
    assert error_of(lambda: client.chat_update(channel=SUPPORT, ts=ts, text="x")) == (
        "message_not_found"
    )
    assert error_of(lambda: client.chat_delete(channel=SUPPORT, ts=ts)) == "message_not_found"


def test_the_bot_cannot_edit_people_and_a_deleted_parent_leaves_a_tombstone(
    standin: SlackStandIn, client: WebClient
) -> None:
    driver = SlackDriver("secret")
    human = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="mine"))
    assert error_of(lambda: client.chat_update(channel=SUPPORT, ts=human["ts"], text="x")) == (
        "cant_update_message"
    )
    assert error_of(lambda: client.chat_delete(channel=SUPPORT, ts=human["ts"])) == (
        "cant_delete_message"
    )

    parent = client.chat_postMessage(channel=SUPPORT, text="parent")["ts"]
    reply = client.chat_postMessage(channel=SUPPORT, text="reply", thread_ts=parent)["ts"]
    client.chat_delete(channel=SUPPORT, ts=parent)
    thread = standin.replies(SUPPORT, parent)
    assert thread[0]["subtype"] == "tombstone" and thread[1]["ts"] == reply

    client.chat_delete(channel=SUPPORT, ts=reply)
    assert "reply_count" not in standin.replies(SUPPORT, parent)[0]


def test_refused_deletes_and_file_deletes(standin: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=SUPPORT, text="the bot's own")["ts"]
    standin.refuse_deletes()  # a workspace that keeps every message
    assert error_of(lambda: client.chat_delete(channel=SUPPORT, ts=ts)) == "cant_delete_message"
    client.chat_update(channel=SUPPORT, ts=ts, text="overwritten")  # edits still go
    standin.refuse_deletes(False)
    client.chat_delete(channel=SUPPORT, ts=ts)
    assert standin.messages(SUPPORT) == []

    upload = client.files_upload_v2(channel=SUPPORT, content=b"abc", filename="a.txt")
    file_id = upload["files"][0]["id"]
    [shared] = standin.messages(SUPPORT)
    assert shared["files"][0]["id"] == file_id
    mine = standin.add_file(b"theirs", name="b.txt", mimetype="text/plain", user=AGENT)
    assert error_of(lambda: client.files_delete(file=mine["id"])) == "cant_delete_file"
    client.files_delete(file=file_id)
    assert standin.messages(SUPPORT)[0]["files"] == []
    assert error_of(lambda: client.files_delete(file=file_id)) == "file_not_found"


def test_post_ephemeral(standin: SlackStandIn, client: WebClient) -> None:
    response = client.chat_postEphemeral(channel=SUPPORT, user=AGENT, text="only you")

    assert TS.match(response["message_ts"])
    [ephemeral] = standin.ephemerals(SUPPORT)
    assert ephemeral["user"] == AGENT and ephemeral["text"] == "only you"
    assert ephemeral["source"] == "chat.postEphemeral"
    assert standin.messages(SUPPORT) == []
    assert standin.ephemerals(PRIVATE) == []
    assert error_of(
        lambda: client.chat_postEphemeral(channel=SUPPORT, user=STRANGER, text="x")
    ) == ("user_not_in_channel")


def test_get_permalink(standin: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=SUPPORT, text="p")["ts"]
    reply = client.chat_postMessage(channel=SUPPORT, text="r", thread_ts=parent)["ts"]

    top = client.chat_getPermalink(channel=SUPPORT, message_ts=parent)["permalink"]
    nested = client.chat_getPermalink(channel=SUPPORT, message_ts=reply)["permalink"]

    assert top == f"{standin.url}/archives/{SUPPORT}/p{parent.replace('.', '')}"
    assert nested.endswith(f"?thread_ts={parent}&cid={SUPPORT}")
    assert error_of(lambda: client.chat_getPermalink(channel=SUPPORT, message_ts="1.2")) == (
        "message_not_found"
    )


def test_direct_messages_to_a_user_id(standin: SlackStandIn, client: WebClient) -> None:
    response = client.chat_postMessage(channel=ADMIN, text="psst")
    assert response["channel"].startswith("D")
    assert [m["text"] for m in standin.messages(response["channel"])] == ["psst"]


# ---------------------------------------------------------------- reactions


def test_reactions_add_remove_and_errors(standin: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=SUPPORT, text="x")["ts"]

    client.reactions_add(channel=SUPPORT, timestamp=ts, name="white_check_mark")
    client.reactions_add(channel=SUPPORT, timestamp=ts, name="eyes")
    assert standin.reactions(SUPPORT, ts) == ["white_check_mark", "eyes"]
    assert error_of(lambda: client.reactions_add(channel=SUPPORT, timestamp=ts, name="eyes")) == (
        "already_reacted"
    )
    assert error_of(lambda: client.reactions_add(channel=SUPPORT, timestamp=ts, name=":eyes:")) == (
        "invalid_name"
    )
    assert error_of(
        lambda: client.reactions_add(channel=SUPPORT, timestamp="1.000100", name="x")
    ) == ("message_not_found")

    client.reactions_remove(channel=SUPPORT, timestamp=ts, name="eyes")
    assert standin.reactions(SUPPORT, ts) == ["white_check_mark"]
    assert error_of(
        lambda: client.reactions_remove(channel=SUPPORT, timestamp=ts, name="eyes")
    ) == ("no_reaction")
    # reactions.get needs reactions:read, which the bridge manifest does not ask for.
    assert error_of(lambda: client.reactions_get(channel=SUPPORT, timestamp=ts)) == (
        "missing_scope"
    )


def test_reactions_get_and_reactions_on_peoples_messages() -> None:
    with make_standin(scopes=[*DEFAULT_SCOPES, "reactions:read"]) as standin:
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        driver = SlackDriver("secret")
        human = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="hi"))
        client.reactions_add(channel=SUPPORT, timestamp=human["ts"], name="hourglass")

        got = client.reactions_get(channel=SUPPORT, timestamp=human["ts"])

        assert got["type"] == "message" and got["channel"] == SUPPORT
        assert got["message"]["reactions"] == [
            {"name": "hourglass", "users": ["UBRIDGEBOT"], "count": 1}
        ]


# ---------------------------------------------------------------- users and conversations


def test_users_info(client: WebClient) -> None:
    admin = client.users_info(user=ADMIN)["user"]
    agent = client.users_info(user=AGENT)["user"]
    bot = client.users_info(user="UBRIDGEBOT")["user"]

    assert admin["is_admin"] and not admin["is_owner"] and admin["real_name"] == "Ada Admin"
    assert admin["profile"]["display_name"] == "ada"
    assert not agent["is_admin"] and agent["name"] == "sam"
    assert bot["is_bot"] and bot["profile"]["bot_id"] == "BBRIDGEBOT"
    assert error_of(lambda: client.users_info(user="U0NOBODY")) == "user_not_found"


def test_users_can_be_given_to_the_constructor() -> None:
    users = {"U0OWNER": {"name": "olga", "is_owner": True, "is_admin": True}}
    with SlackStandIn(users=users) as standin:
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        owner = client.users_info(user="U0OWNER")["user"]
        assert owner["name"] == "olga" and owner["is_owner"] and owner["is_admin"]


def test_conversations_info_members_and_join() -> None:
    with make_standin(scopes=[*DEFAULT_SCOPES, "channels:join"]) as standin:
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        info = client.conversations_info(channel=SUPPORT, include_num_members=True)["channel"]
        private = client.conversations_info(channel=PRIVATE)["channel"]
        outside = client.conversations_info(channel=OUTSIDE)["channel"]

        assert info["name"] == "support" and info["is_member"] and info["num_members"] == 3
        assert info["is_channel"] and not info["is_private"]
        assert private["is_private"] and private["is_group"]
        assert not outside["is_member"]
        assert client.conversations_members(channel=SUPPORT)["members"] == [
            ADMIN,
            AGENT,
            "UBRIDGEBOT",
        ]

        joined = client.conversations_join(channel=OUTSIDE)
        again = client.conversations_join(channel=OUTSIDE)
        assert joined["channel"]["is_member"] and "warning" not in joined
        assert again["warning"] == "already_in_channel"
        client.chat_postMessage(channel=OUTSIDE, text="now I can post")
        assert error_of(lambda: client.conversations_join(channel=PRIVATE)) == (
            "method_not_supported_for_channel_type"
        )


# ---------------------------------------------------------------- views


def test_views_open_push_update_and_publish(standin: SlackStandIn, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "new_chat",
        "title": {"type": "plain_text", "text": "New chat"},
        "private_metadata": "C0SUPPORT",
        "blocks": [{"type": "input", "block_id": "phone", "element": {"type": "plain_text_input"}}],
    }
    opened = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["callback_id"] == "new_chat" and opened["private_metadata"] == "C0SUPPORT"
    assert error_of(lambda: client.views_open(trigger_id="1.2.abc", view=modal)) == (
        "exchanged_trigger_id"
    )

    pushed = client.views_push(trigger_id="1.2.def", view={**modal, "callback_id": "step2"})
    assert pushed["view"]["previous_view_id"] == opened["id"]

    changed = {**modal, "title": {"type": "plain_text", "text": "Sending…"}}
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert error_of(
        lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)
    ) == ("hash_conflict")
    assert error_of(lambda: client.views_update(view_id="V0NONE", view=changed)) == "not_found"

    home = client.views_publish(user_id=AGENT, view={"type": "home", "blocks": []})["view"]
    assert home["type"] == "home"
    assert [v["id"] for v in standin.views] == [opened["id"], pushed["view"]["id"], home["id"]]
    assert standin.views[0]["title"]["text"] == "Sending…"


# ---------------------------------------------------------------- files


def test_files_upload_v2_ends_as_a_file_message_in_the_thread(
    standin: SlackStandIn, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel=SUPPORT, text="New chat")["ts"]

    response = client.files_upload_v2(
        channel=SUPPORT,
        thread_ts=parent,
        content=b"\x89PNG fake image",
        filename="photo.png",
        title="Photo from Maria",
        initial_comment="Maria sent a photo",
    )

    file_id = response["file"]["id"]
    [_, shared] = standin.replies(SUPPORT, parent)
    assert shared["text"] == "Maria sent a photo" and shared["thread_ts"] == parent
    assert shared["user"] == "UBRIDGEBOT" and shared["files"][0]["id"] == file_id
    assert shared["files"][0]["title"] == "Photo from Maria"
    assert [c.method for c in standin.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    info = client.files_info(file=file_id)["file"]
    assert info["size"] == len(b"\x89PNG fake image") and info["mimetype"] == "image/png"
    [share] = info["shares"]["public"][SUPPORT]
    assert share["ts"] == shared["ts"] and share["thread_ts"] == parent
    assert standin.file_content(file_id) == b"\x89PNG fake image"


def test_file_download_needs_the_bot_token(standin: SlackStandIn, client: WebClient) -> None:
    added = standin.add_file(
        b"%PDF-1.4 quote", name="quote.pdf", mimetype="application/pdf", user=AGENT
    )
    url = added["url_private_download"]
    assert url.startswith(standin.url) and added["url_private"].startswith(standin.url)

    ok = httpx.get(url, headers={"Authorization": f"Bearer {standin.bot_token}"})
    anonymous = httpx.get(url)
    wrong = httpx.get(added["url_private"], headers={"Authorization": "Bearer xoxb-other"})

    assert ok.status_code == 200 and ok.content == b"%PDF-1.4 quote"
    assert ok.headers["content-type"] == "application/pdf"
    for refused in (anonymous, wrong):
        assert refused.status_code == 200  # like Slack: a login page, not an error status
        assert refused.headers["content-type"].startswith("text/html")
    assert client.files_info(file=added["id"])["file"]["name"] == "quote.pdf"
    assert error_of(lambda: client.files_info(file="F0NONE")) == "file_not_found"


def test_a_file_share_from_a_person_can_be_put_in_the_workspace(standin: SlackStandIn) -> None:
    driver = SlackDriver("secret")
    parent = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="parent"))
    added = standin.add_file(b"GIF89a", name="x.gif", mimetype="image/gif", user=AGENT)
    event = driver.message(
        channel=SUPPORT, user=AGENT, text="look", thread_ts=parent["ts"], files=[added]
    )

    stored = standin.add_message(event)

    assert event["subtype"] == "file_share"
    assert stored["files"][0]["id"] == added["id"] and "channel" not in stored
    assert standin.messages(SUPPORT)[0]["reply_count"] == 1


# ---------------------------------------------------------------- failures and rate limits


def test_rate_limit_is_retried_by_slack_sdks_handler(standin: SlackStandIn) -> None:
    client = WebClient(
        token=standin.bot_token,
        base_url=standin.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    standin.fail_next("chat.postMessage", retry_after=0)

    response = client.chat_postMessage(channel=SUPPORT, text="eventually")

    assert response["ok"]
    limited, passed = standin.calls_to("chat.postMessage")
    assert limited.status == 429 and limited.response == {"ok": False, "error": "ratelimited"}
    assert passed.ok
    assert [m["text"] for m in standin.messages(SUPPORT)] == ["eventually"]


def test_rate_limit_shape_without_a_retry_handler(standin: SlackStandIn, client: WebClient) -> None:
    standin.fail_next("reactions.add", retry_after=7)
    ts = client.chat_postMessage(channel=SUPPORT, text="x")["ts"]

    with pytest.raises(SlackApiError) as raised:
        client.reactions_add(channel=SUPPORT, timestamp=ts, name="eyes")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    client.reactions_add(channel=SUPPORT, timestamp=ts, name="eyes")  # only the next call fails


def test_ok_false_and_server_errors_on_demand(standin: SlackStandIn, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", status=200, error="is_archived")
    standin.fail_next("chat.update", status=500)

    assert error_of(lambda: client.chat_postMessage(channel=SUPPORT, text="x")) == "is_archived"
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel=SUPPORT, ts="1.000100", text="x")
    assert raised.value.response.status_code == 500
    assert standin.messages(SUPPORT) == []


# ---------------------------------------------------------------- response_url


def test_response_urls_record_and_apply_what_is_posted(
    standin: SlackStandIn, client: WebClient
) -> None:
    button_ts = client.chat_postMessage(channel=SUPPORT, text="Resolve?")["ts"]
    ephemeral_url = standin.response_url(channel=SUPPORT)
    in_channel_url = standin.response_url(channel=SUPPORT)
    replace_url = standin.response_url(channel=SUPPORT, message_ts=button_ts)

    WebhookClient(ephemeral_url).send(text="Linked +1 415-555-0100")
    WebhookClient(in_channel_url).send(text="Everyone sees this", response_type="in_channel")
    WebhookClient(replace_url).send(text="Resolved by Sam", replace_original=True)
    unknown = WebhookClient(f"{standin.url}/response/nope").send(text="x")

    assert [r["text"] for r in standin.responses] == [
        "Linked +1 415-555-0100",
        "Everyone sees this",
        "Resolved by Sam",
    ]
    [ephemeral] = standin.ephemerals(SUPPORT)
    assert ephemeral["source"] == "response_url" and ephemeral["text"] == "Linked +1 415-555-0100"
    assert [m["text"] for m in standin.messages(SUPPORT)] == [
        "Resolved by Sam",
        "Everyone sees this",
    ]
    assert unknown.status_code == 404

    WebhookClient(standin.response_url(channel=SUPPORT, message_ts=button_ts)).send(
        text="", delete_original=True
    )
    assert [m["text"] for m in standin.messages(SUPPORT)] == ["Everyone sees this"]


# ---------------------------------------------------------------- waiting without sleeps


def test_wait_for_wakes_up_when_another_thread_posts(
    standin: SlackStandIn, client: WebClient
) -> None:
    go = threading.Event()

    def poster() -> None:
        go.wait()
        for i in range(3):
            client.chat_postMessage(channel=SUPPORT, text=f"n{i}")

    thread = threading.Thread(target=poster)
    thread.start()
    go.set()
    calls = standin.wait_for_call("chat.postMessage", count=3, timeout=5)
    standin.wait_for(lambda s: len(s.messages(SUPPORT)) == 3)
    thread.join()

    assert len(calls) == 3


def test_wait_for_times_out_with_a_useful_message(standin: SlackStandIn, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(TimeoutError) as raised:
        standin.wait_for_call("chat.postMessage", timeout=0.05)
    assert "chat.postMessage" in str(raised.value) and "auth.test" in str(raised.value)


# ---------------------------------------------------------------- people's messages


def test_add_message_follows_edits_and_deletes_from_driver_events(standin: SlackStandIn) -> None:
    driver = SlackDriver("secret")
    original = standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="helo"))
    standin.add_message(
        driver.message(
            channel=SUPPORT,
            user=AGENT,
            text="hello",
            ts=original["ts"],
            subtype="message_changed",
            previous_text="helo",
        )
    )
    assert standin.messages(SUPPORT)[0]["text"] == "hello"
    assert standin.messages(SUPPORT)[0]["edited"]["user"] == AGENT

    standin.add_message(
        driver.message(
            channel=SUPPORT, user=AGENT, text="hello", ts=original["ts"], subtype="message_deleted"
        )
    )
    assert standin.messages(SUPPORT) == []
    with pytest.raises(ValueError, match="add_channel"):
        standin.add_message(driver.message(channel="C0NOWHERE", user=AGENT, text="x"))


def test_stand_in_and_driver_timestamps_never_collide(
    standin: SlackStandIn, client: WebClient
) -> None:
    driver = SlackDriver("secret")
    seen: list[str] = []
    for i in range(20):
        seen.append(
            standin.add_message(driver.message(channel=SUPPORT, user=AGENT, text="x"))["ts"]
        )
        seen.append(client.chat_postMessage(channel=SUPPORT, text=str(i))["ts"])
    assert len(set(seen)) == len(seen)
    assert [m["ts"] for m in standin.messages(SUPPORT)] == sorted(seen, key=float)


def test_the_clock_dates_messages() -> None:
    with make_standin(clock=lambda: 1_700_000_000.0) as standin:
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        stamps = [client.chat_postMessage(channel=SUPPORT, text="x")["ts"] for _ in range(2)]
        assert stamps == ["1700000000.000000", "1700000000.000100"]
        assert standin.calls[0].at == 1_700_000_000.0


def test_uploads_need_a_channel_the_bot_is_in(client: WebClient) -> None:
    assert error_of(
        lambda: client.files_upload_v2(channel=OUTSIDE, content=b"x", filename="x.txt")
    ) == ("not_in_channel")


def test_a_refused_bot_token_and_a_bot_removed_or_archived(standin: SlackStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    standin.refuse_bot_token("token_revoked")
    with pytest.raises(SlackApiError) as refused:
        client.auth_test()
    assert refused.value.response["error"] == "token_revoked"
    standin.refuse_bot_token(None)
    assert client.auth_test()["ok"]
    standin.remove_bot(SUPPORT)
    with pytest.raises(SlackApiError) as removed:
        client.chat_postMessage(channel=SUPPORT, text="hi")
    assert removed.value.response["error"] == "not_in_channel"
    assert client.conversations_info(channel=SUPPORT)["channel"]["is_member"] is False
    standin.add_bot(SUPPORT)
    standin.remove_bot(SUPPORT, archived=True)
    with pytest.raises(SlackApiError) as archived:
        client.chat_postMessage(channel=SUPPORT, text="hi")
    assert archived.value.response["error"] == "is_archived"
    assert client.conversations_info(channel=SUPPORT)["channel"]["is_archived"] is True
    standin.add_bot(SUPPORT)
    assert client.chat_postMessage(channel=SUPPORT, text="hi")["ok"]
