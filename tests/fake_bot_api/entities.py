"""Telegram's HTML parse mode, as strict as the Bot API server.

The scanner follows the behaviour of Telegram's parser (tdlib ``parse_html``)
rather than a browser's: it knows only the tags Telegram supports, treats any
other ``<`` as the start of an unsupported tag, and reports errors with the
same wording Telegram uses (``Unsupported start tag "x" at byte offset N``,
``Can't find end tag corresponding to start tag "b"``, ...), so a bot that
logs or matches those descriptions sees the real thing.

Entity offsets and lengths are counted in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Tag name -> entity type. Aliases map to the same type, as in Telegram.
_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler", checked below
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}

# The only named entities Telegram decodes; every numeric entity is decoded.
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")


class HtmlParseError(ValueError):
    """Broken HTML; ``str(error)`` is the text after "can't parse entities: "."""


@dataclass
class ParsedText:
    """The outcome of parsing: what the user sees and its formatting."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    # Telegram reports positions as UTF-8 byte offsets into the source text.
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decode the HTML entity at ``pos`` ('&'); None when it is not one."""
    match = _ENTITY_RE.match(source, pos)
    if match is None:
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _NAMED:
            return None
        return _NAMED[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _read_attributes(source: str, pos: int, begin: int, tag: str) -> tuple[dict[str, str], int]:
    """Read ``name="value"`` pairs up to '>'; returns them and the index after '>'."""
    attributes: dict[str, str] = {}
    length = len(source)
    while True:
        while pos < length and source[pos].isspace():
            pos += 1
        if pos >= length:
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        if source[pos] == ">":
            return attributes, pos + 1
        name_start = pos
        while pos < length and not source[pos].isspace() and source[pos] not in "=>":
            pos += 1
        name = source[name_start:pos].lower()
        if not name:
            raise HtmlParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        while pos < length and source[pos].isspace():
            pos += 1
        if pos >= length:
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        if source[pos] != "=":
            # A value-less attribute, such as <blockquote expandable>.
            attributes[name] = ""
            continue
        pos += 1
        while pos < length and source[pos].isspace():
            pos += 1
        if pos >= length:
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        if source[pos] in "\"'":
            quote = source[pos]
            end = source.find(quote, pos + 1)
            if end < 0:
                raise HtmlParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                )
            raw = source[pos + 1 : end]
            pos = end + 1
        else:
            value_start = pos
            while pos < length and not source[pos].isspace() and source[pos] != ">":
                pos += 1
            raw = source[value_start:pos]
        attributes[name] = _decode_attribute(raw)


def _decode_attribute(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "&":
            decoded = _decode_entity(raw, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        out.append(raw[i])
        i += 1
    return "".join(out)


@dataclass
class _Open:
    tag: str
    attributes: dict[str, str]
    offset: int  # UTF-16 offset in the output text where the tag's content starts


def parse_html(source: str, *, strict_ampersand: bool = True) -> ParsedText:
    """Parse Telegram HTML into plain text and entities, or raise HtmlParseError.

    ``strict_ampersand``: Telegram itself keeps a ``&`` that does not start a
    known entity as a literal character, but the Bot API documentation requires
    it to be written ``&amp;``, and an unescaped ``&`` is how unescaped user
    input shows up in tests. By default the fake refuses it; pass False for
    Telegram's lenient behaviour.
    """
    out: list[str] = []
    out_len = 0  # UTF-16 length of "".join(out), kept incrementally
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    length = len(source)
    while i < length:
        char = source[i]
        if char == "&":
            decoded = _decode_entity(source, i)
            if decoded is not None:
                out.append(decoded[0])
                out_len += utf16_len(decoded[0])
                i = decoded[1]
                continue
            if strict_ampersand:
                raise HtmlParseError(
                    f'Unescaped "&" at byte offset {_byte_offset(source, i)} '
                    "is not a valid HTML entity (fake: write &amp;)"
                )
        if char != "<":
            out.append(char)
            out_len += utf16_len(char)
            i += 1
            continue
        begin = i
        i += 1
        if i < length and source[i] == "/":
            # End tag: </name>, checked against the innermost open tag.
            i += 1
            name_start = i
            while i < length and not source[i].isspace() and source[i] != ">":
                i += 1
            name = source[name_start:i].lower()
            while i < length and source[i].isspace():
                i += 1
            if i >= length or source[i] != ">":
                raise HtmlParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            i += 1
            if not stack:
                raise HtmlParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            opened = stack.pop()
            if name != opened.tag:
                raise HtmlParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{opened.tag}>", found "</{name}>"'
                )
            entity = _make_entity(opened, out_len, entities)
            if entity is not None:
                entities.append(entity)
            continue
        name_start = i
        while i < length and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= length:
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        tag = source[name_start:i].lower()
        if tag not in _SIMPLE_TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
            )
        attributes, i = _read_attributes(source, i, begin, tag)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        stack.append(_Open(tag, attributes, out_len))
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _make_entity(opened: _Open, end: int, entities: list[dict[str, Any]]) -> dict[str, Any] | None:
    length = end - opened.offset
    if length <= 0:
        return None  # Telegram drops empty entities
    kind = _SIMPLE_TAGS[opened.tag]
    entity: dict[str, Any] = {"type": kind, "offset": opened.offset, "length": length}
    if opened.tag == "a":
        href = opened.attributes.get("href", "")
        if not href:
            return None
        entity["url"] = href
    elif opened.tag == "blockquote" and "expandable" in opened.attributes:
        entity["type"] = "expandable_blockquote"
    elif opened.tag == "tg-emoji":
        emoji_id = opened.attributes.get("emoji-id", "")
        if not emoji_id:
            return None
        entity["custom_emoji_id"] = emoji_id
    elif opened.tag == "code":
        # <pre><code class="language-x"> gives the enclosing pre a language.
        language = opened.attributes.get("class", "")
        if language.startswith("language-"):
            # Kept aside: the enclosing <pre> closes later and takes it over.
            entity["_language"] = language[len("language-") :]
    elif opened.tag == "pre":
        inner = [
            e
            for e in entities
            if e["type"] == "code"
            and e["offset"] == opened.offset
            and e["length"] == length
            and "_language" in e
        ]
        if inner:
            entity["language"] = inner[0]["_language"]
            entities.remove(inner[0])
    return entity


def strip_private(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities as the Bot API returns them (without parser bookkeeping keys)."""
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in entities]


def trim(parsed: ParsedText) -> ParsedText:
    """Strip leading/trailing whitespace as Telegram does, moving entities along."""
    text = parsed.text
    stripped_left = text.lstrip()
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    entities: list[dict[str, Any]] = []
    for entity in parsed.entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(result, entities)
