"""Long HTML replies are split within Telegram's 4,096 characters, every part valid.

No journey can produce a reply that long today (a comment is at most 2,000
characters, escaped in a summary well under the limit), so the splitter is
tested directly, and through the aiogram transport against the fake Bot API,
which refuses over-long text and broken HTML as Telegram does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.aiogram_transport import AiogramTransport
from bot.html_text import MESSAGE_LIMIT, split_html, truncate_html, visible_length
from conversations.vocabulary import Button, Chat, Event, Send, Who
from tests.fake_bot_api import FakeBotAPI, ParsedText, parse_html

LONG_TEXTS = {
    "words": " ".join(f"word{n}" for n in range(2500)),
    "escaped": "&lt;b&gt; &amp; " * 1200,
    "ampersands-without-spaces": "&amp;" * 9000,
    "lines": "\n".join(f"line {n}: a citizen's comment" for n in range(600)),
    "nested-tags-across-cuts": "<b>" + "bold " * 700 + "<i>" + "both &lt;x&gt; " * 600
                               + "</i> tail</b> " + "plain " * 500,
    "a-link-across-a-cut": "a " * 2040 + '<a href="https://example.org/?a=1&amp;b=2">'
                           + "link text " * 50 + "</a> end",
    "no-spaces-at-all": "<u>" + "y" * 9000 + "</u>",
    "pre-block": "<pre>" + "\n".join(f"code {n}" for n in range(1200)) + "</pre>",
    "blockquote": "<blockquote>" + "q " * 5000 + "</blockquote>",
    "emoji": "😀 " * 3000,
}


def styled(parsed: ParsedText, kind: str) -> str:
    """The characters covered by entities of one kind (BMP text: offsets are indexes)."""
    return "".join(parsed.text[e["offset"]:e["offset"] + e["length"]]
                   for e in parsed.entities if e["type"] == kind)


def squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("name", list(LONG_TEXTS))
def test_every_part_fits_parses_and_nothing_is_lost(name: str) -> None:
    text = LONG_TEXTS[name]
    whole = parse_html(text)  # the source is valid HTML, only too long
    assert len(whole.text) > MESSAGE_LIMIT

    parts = split_html(text)
    parsed = [parse_html(part) for part in parts]  # raises on unbalanced or broken HTML

    assert len(parts) >= 2
    assert all(visible_length(part) <= MESSAGE_LIMIT for part in parts)
    assert all(0 < len(p.text) <= MESSAGE_LIMIT for p in parsed)
    # The text survives whole; only whitespace at a cut may go.
    assert squeeze("".join(p.text for p in parsed)) == squeeze(whole.text)
    if " " in whole.text.strip():
        assert " ".join(p.text for p in parsed).split() == whole.text.split()
    # So does the formatting: what was bold, italic, ... still is.
    for kind in ("bold", "italic", "underline", "text_link", "pre", "blockquote"):
        assert squeeze("".join(styled(p, kind) for p in parsed)) == squeeze(styled(whole, kind))


def test_a_short_text_is_one_part_untouched() -> None:
    text = "<b>Your opinion</b>\n\nComment: <i>&lt;b&gt; &amp; more</i>"
    assert split_html(text) == [text]
    exact = "x" * MESSAGE_LIMIT
    assert split_html(exact) == [exact]
    assert len(split_html(exact + "x")) == 2


def test_escapes_count_as_one_character() -> None:
    # 4,096 "&" written as &amp;: 20,480 characters of source, one message.
    text = "&amp;" * MESSAGE_LIMIT
    assert visible_length(text) == MESSAGE_LIMIT
    assert split_html(text) == [text]


def test_truncation_for_edits_and_captions_fits_and_parses() -> None:
    text = "<b>" + "bold words " * 300 + "</b>"
    cut = truncate_html(text, 1024)
    assert visible_length(cut) <= 1024 and cut.endswith("…")
    assert parse_html(cut).entities[0]["type"] == "bold"
    assert truncate_html("short", 1024) == "short"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.mark.parametrize("name", ["nested-tags-across-cuts", "escaped", "emoji"])
async def test_the_transport_sends_every_part_and_telegram_accepts_them(  # type: ignore[no-untyped-def]
        fake, name):
    ana = fake.user(id=4242, first_name="Ana", started=True)
    transport = AiogramTransport(fake.token, fake.base_url)
    text = LONG_TEXTS[name]
    buttons = ((Button("Main menu", "menu:go:x"),),)
    try:
        await transport.deliver(Event(update_id=1, chat=Chat(ana.id), user=Who(ana.id),
                                      kind="text"), [Send(text, buttons)])
    finally:
        await transport.close()

    sent = fake.calls_to("sendMessage")
    assert sent and all(c.status == 200 for c in sent), [c.response for c in sent]
    delivered = fake.messages(ana.id)
    assert [m.text for m in delivered] == split_html(text)
    assert squeeze("".join(m.plain_text or "" for m in delivered)) == \
        squeeze(parse_html(text).text)
    # The buttons go with the last part only, where the citizen reads on.
    assert [bool(m.buttons) for m in delivered] == [False] * (len(delivered) - 1) + [True]


# -- a received message's formatting back to HTML (broadcasts keep it) ------------

class _Entity:
    """An entity as both libraries hand it over (attributes, not a dict)."""

    def __init__(self, raw: dict) -> None:  # type: ignore[type-arg]
        self.type = raw["type"]
        self.offset, self.length = raw["offset"], raw["length"]
        self.url = raw.get("url")
        self.language = raw.get("language")
        self.custom_emoji_id = raw.get("custom_emoji_id")
        self.user = type("User", (), {"id": raw["user"]["id"]})() if "user" in raw else None


@pytest.mark.parametrize("source", [
    "plain &amp; &lt;simple&gt; text",
    "<b>Hola</b> <i>vecinas y vecinos</i> 👋🏽 <u>hoy</u> <s>no</s> <tg-spoiler>sí</tg-spoiler>",
    "<b>bold <i>both</i> bold</b> and <a href=\"https://example.org/?a=1&amp;b=2\">a "
    "link 🔗</a>",
    "emoji 👨‍👩‍👧 before <b>bold 𝕏</b> after",
    "<code>x &lt; y</code> and <pre><code class=\"language-python\">print(1)</code></pre>",
    "<blockquote>quoted <b>words</b></blockquote>",
])
def test_entities_become_the_same_html_again(source):  # type: ignore[no-untyped-def]
    from bot.html_text import entities_html

    parsed = parse_html(source)
    rendered = entities_html(parsed.text, [_Entity(e) for e in parsed.entities])
    again = parse_html(rendered)
    assert again.text == parsed.text
    assert again.entities == parsed.entities


def test_overlapping_entities_still_give_valid_html():
    from bot.html_text import entities_html

    text = "one two three"
    entities = [_Entity({"type": "bold", "offset": 0, "length": 7}),
                _Entity({"type": "italic", "offset": 4, "length": 9}),
                _Entity({"type": "mention", "offset": 0, "length": 3})]
    rendered = entities_html(text, entities)
    assert rendered == "<b>one <i>two</i></b><i> three</i>"
    assert parse_html(rendered).text == text
