import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.formatting import (
    escape,
    internal_note,
    slack_to_whatsapp,
    split_text,
    whatsapp_to_slack,
    with_agent_prefix,
)

USERS = {"U123": "Ana Souza", "W42": "Bob & Co"}
CHANNELS = {"C123": "support"}


def to_whatsapp(text: str) -> str:
    return slack_to_whatsapp(text, resolve_user=USERS.get, resolve_channel=CHANNELS.get)


# ---------------------------------------------------------------- escape / WhatsApp → Slack


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain", "plain"),
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|bank>", "&lt;https://evil.example|bank&gt;"),
        ("&lt; already", "&amp;lt; already"),
        ("\"quotes\" and 'apostrophes' é", "\"quotes\" and 'apostrophes' é"),
    ],
)
def test_escape(text: str, escaped: str) -> None:
    assert escape(text) == escaped


@pytest.mark.parametrize(
    ("whatsapp", "slack"),
    [
        ("*bold*", "*bold*"),
        ("_italic_", "_italic_"),
        ("~strike~", "~strike~"),
        ("```mono```", "```mono```"),
        ("`code`", "`code`"),
        ("*bold _and italic_*", "*bold _and italic_*"),
        ("snake_case_name", "snake_case_name"),
        ("unbalanced *star", "unbalanced *star"),
        ("> quoted", "&gt; quoted"),
        ("1 < 2 && 3 > 2", "1 &lt; 2 &amp;&amp; 3 &gt; 2"),
        ("<!channel> <!here> <@U123>", "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;"),
        ("@channel @here !here", "@channel @here !here"),  # no link_names: plain text, no ping
        ("* one\n* two", "• one\n• two"),
        ("  * nested", "  • nested"),
        ("- dash\n1. numbered", "- dash\n1. numbered"),
        ("*bold* line", "*bold* line"),
        ("```\n* not a bullet\n```", "```\n* not a bullet\n```"),
        ("```a``` \n* bullet", "```a``` \n• bullet"),
        ("https://x.com/a_b?c=1&d=2", "https://x.com/a_b?c=1&amp;d=2"),
        ("🎉🎉", "🎉🎉"),
        ("", ""),
    ],
)
def test_whatsapp_to_slack(whatsapp: str, slack: str) -> None:
    assert whatsapp_to_slack(whatsapp) == slack


@given(st.text())
def test_escape_leaves_no_bare_control_characters(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert re.sub(r"&(amp|lt|gt);", "", escaped).count("&") == 0


@given(st.text())
def test_whatsapp_to_slack_can_never_ping_or_link(text: str) -> None:
    slack = whatsapp_to_slack(text)
    assert "<!" not in slack and "<@" not in slack and "<#" not in slack
    assert "<" not in slack and ">" not in slack


@given(st.text())
def test_escape_round_trips_through_slack_to_whatsapp(text: str) -> None:
    # Text with no mentions/links/emoji comes back as typed.
    if ":" not in text:
        assert to_whatsapp(escape(text)) == text


# ---------------------------------------------------------------- Slack → WhatsApp


@pytest.mark.parametrize(
    ("slack", "whatsapp"),
    [
        # mentions
        ("hi <@U123>", "hi @Ana Souza"),
        ("<@W42> there", "@Bob & Co there"),
        ("<@U999>", "@someone"),
        ("<@U999|carla>", "@carla"),
        ("<@U123|old name>", "@Ana Souza"),
        ("<#C123|support>", "#support"),
        ("<#C123>", "#support"),
        ("<#C999>", "#channel"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!here|here>", "@here"),
        ("<!subteam^S123|@oncall>", "@oncall"),
        ("<!subteam^S123>", "@team"),
        ("<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"),
        # links
        ("<https://x.com|the docs>", "the docs (https://x.com)"),
        ("<https://x.com|https://x.com>", "https://x.com"),
        ("<https://x.com>", "https://x.com"),
        ("<http://example.com|example.com>", "example.com"),
        ("<https://a.com/?q=1&amp;r=2|Q &amp; A>", "Q & A (https://a.com/?q=1&r=2)"),
        ("<mailto:a@b.co|a@b.co>", "a@b.co"),
        ("<mailto:a@b.co>", "a@b.co"),
        ("<tel:+14155550100|+1 415 555 0100>", "+1 415 555 0100"),
        # entities
        ("a &amp; b", "a & b"),
        ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
        ("&amp;lt;", "&lt;"),
        ("&gt; quoted\n&gt; twice", "> quoted\n> twice"),
        ("&amp;nbsp;", "&nbsp;"),
        # emoji
        (":smile:", "😄"),
        (":+1: :thumbsup: :-1:", "👍 👍 👎"),
        (":white_check_mark:", "✅"),
        (":simple_smile:", "🙂"),
        (":smile::tada:", "😄🎉"),
        (":wave::skin-tone-3:", "👋🏼"),
        (":flag-br:", "🇧🇷"),
        (":party-parrot:", ":party-parrot:"),
        (":unknown_custom: ok", ":unknown_custom: ok"),
        ("at 10:30:45", "at 10:30:45"),
        ("ratio a:b:c", "ratio a:b:c"),
        ("`:smile:` ```:smile:```", "`:smile:` ```:smile:```"),
        # formatting passes through
        ("*bold* _italic_ ~strike~", "*bold* _italic_ ~strike~"),
        ("`inline` and ```block```", "`inline` and ```block```"),
        ("```\ncode with <@U123> &amp; *stars*\n```", "```\ncode with @Ana Souza & *stars*\n```"),
        ("• one\n• two", "• one\n• two"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("", ""),
    ],
)
def test_slack_to_whatsapp(slack: str, whatsapp: str) -> None:
    assert to_whatsapp(slack) == whatsapp


def test_slack_to_whatsapp_asks_resolvers_with_bare_ids() -> None:
    asked: list[str] = []

    def user(uid: str) -> str | None:
        asked.append(uid)
        return None

    result = slack_to_whatsapp("<@U1> <@U2|x> <#C9>", resolve_user=user, resolve_channel=user)
    assert result == "@someone @x #channel"
    assert asked == ["U1", "U2", "C9"]


def test_slack_to_whatsapp_does_not_rescan_replacements() -> None:
    users = {"U1": ":smile: &amp; <@U2>"}
    result = slack_to_whatsapp("<@U1>", resolve_user=users.get, resolve_channel=users.get)
    assert result == "@:smile: &amp; <@U2>"
    link = slack_to_whatsapp(
        "<https://a.com/:x:/b>", resolve_user=users.get, resolve_channel=users.get
    )
    assert link == "https://a.com/:x:/b"


@given(st.text(alphabet=st.sampled_from("<>&;:|@#!^`*_ ampltgUC12+-smile\n"), max_size=80))
def test_slack_to_whatsapp_never_raises(text: str) -> None:
    assert isinstance(to_whatsapp(text), str)


# ---------------------------------------------------------------- split_text


def reassembles(text: str, chunks: list[str]) -> bool:
    """True when ``text`` is the chunks, in order, joined by whitespace-only runs."""
    position = 0
    for chunk in chunks:
        while (
            position < len(text)
            and text[position].isspace()
            and not text.startswith(chunk, position)
        ):
            position += 1
        if not text.startswith(chunk, position):
            return False
        position += len(chunk)
    return not text[position:].strip()


@pytest.mark.parametrize(
    ("text", "limit", "chunks"),
    [
        ("", 10, []),
        ("   \n ", 10, []),
        ("short", 10, ["short"]),
        ("  keeps its spaces  ", 50, ["  keeps its spaces  "]),
        ("exactly10!", 10, ["exactly10!"]),
        ("first para\n\nsecond para", 15, ["first para", "second para"]),
        ("line one\nline two\nline three", 20, ["line one\nline two", "line three"]),
        ("One sentence. Two sentence. Three.", 30, ["One sentence. Two sentence.", "Three."]),
        ('He said "hi." Then he left.', 16, ['He said "hi."', "Then he left."]),
        ("alpha beta gamma delta", 11, ["alpha beta", "gamma delta"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("para one here\n\nline\nmore text", 22, ["para one here", "line\nmore text"]),
        # a paragraph break in the first half loses to a line break in the second half
        ("ab\n\ncdefghij\nklm", 12, ["ab\n\ncdefghij", "klm"]),
        # a code block is not cut when a cut outside it exists
        (
            "intro\n```\ncode line\ncode\n```\nafter",
            26,
            ["intro", "```\ncode line\ncode\n```", "after"],
        ),
        # a hard cut never separates a combining mark or a skin tone from its letter
        ("ab\u0301cd", 2, ["a", "b\u0301", "cd"]),
        ("👍🏽👍🏽", 3, ["👍🏽", "👍🏽"]),
    ],
)
def test_split_text(text: str, limit: int, chunks: list[str]) -> None:
    assert split_text(text, limit) == chunks
    assert reassembles(text, chunks)


def test_split_text_default_limit_is_whatsapps() -> None:
    text = ("word " * 2000).strip()
    chunks = split_text(text)
    assert [len(c) for c in chunks] == [4094, 4094, 1809]
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert " ".join(chunks) == text


def test_split_text_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)


def test_split_text_cuts_an_oversized_code_block_at_a_line() -> None:
    code = "```\n" + "\n".join(f"line {n}" for n in range(10)) + "\n```"
    chunks = split_text(code, 30)
    assert all(len(chunk) <= 30 for chunk in chunks)
    assert all(not chunk.endswith("lin") for chunk in chunks)
    assert reassembles(code, chunks)


prose = st.lists(
    st.sampled_from(["word", "a", 'said "hi."', "(ok.)", "end!", "\n", "\n\n", "```", "é\u0301"]),
    max_size=60,
).map(" ".join)


@settings(max_examples=300)
@given(
    prose
    | st.text(alphabet=st.sampled_from('ab .!?")\n`*é👍\u0301\u200d'), max_size=300)
    | st.text(max_size=200),
    st.integers(min_value=1, max_value=60),
)
def test_split_text_properties(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert all(chunk.strip() for chunk in chunks)
    assert reassembles(text, chunks)


@given(st.text(max_size=200), st.integers(min_value=1, max_value=50))
def test_split_text_drops_only_whitespace(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)


# ---------------------------------------------------------------- agent prefix, notes


@pytest.mark.parametrize(
    ("text", "name", "template", "result"),
    [
        ("hello", "Ana", "*{name}*: ", "*Ana*: hello"),
        ("hello", None, "*{name}*: ", "hello"),
        ("hello", "  ", "*{name}*: ", "hello"),
        ("hello", "*Bob*", "*{name}*: ", "*Bob*: hello"),
        ("hello", "Ana\nSouza", "*{name}*: ", "*Ana Souza*: hello"),
        ("hello", "Ana", "{name} says: ", "Ana says: hello"),
        ("hello", "Ana", "[{name}] {x} ", "[Ana] {x} hello"),
        ("hello", "Ana", "", "hello"),
    ],
)
def test_with_agent_prefix(text: str, name: str | None, template: str, result: str) -> None:
    assert with_agent_prefix(text, name, template) == result


def test_with_agent_prefix_default_template() -> None:
    assert with_agent_prefix("hi", "Ana") == "*Ana*: hi"


@pytest.mark.parametrize(
    ("text", "prefix", "note"),
    [
        ("note: call back tomorrow", "note:", "call back tomorrow"),
        ("NOTE: shout", "note:", "shout"),
        ("  Note:  spaced  ", "note:", "spaced"),
        ("note:", "note:", ""),
        ("a note: inside", "note:", None),
        ("hello", "note:", None),
        ("// internal", "//", "internal"),
        ("note hi", "note", "hi"),
        ("notes are great", "note", None),
        ("anything", "", None),
        ("", "note:", None),
    ],
)
def test_internal_note(text: str, prefix: str, note: str | None) -> None:
    assert internal_note(text, prefix) == note


def test_internal_note_default_prefix() -> None:
    assert internal_note("Note: hi") == "hi"
    assert internal_note("hi") is None
