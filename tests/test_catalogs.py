"""Every user-visible string is translated, and translations can't break messages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from conversations.i18n import available_languages, locale_dir

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
_TAG = re.compile(r"</?[a-z-]+[^>]*>")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_QUOTED = re.compile(r"“([^”]+)”")

# A translation may read exactly like the Spanish one if it is one of these
# names, or if it has no words at all (numbers, punctuation, emoji, placeholders).
NAMES = {"OK", "Participa", "Cl@ve"}
# Reviewed by a translator: the same word as in Spanish, and the right one.
SAME_AS_SPANISH = {
    "ca": {"Main menu", "Photo", "Previous", "Published", "administrator", "moderator",
           # workshops
           "No", "Question {number} of {total}",
           # broadcasts
           "paused",
           # stats
           "In all", "{score} of 5", "{period}: from {start} to {end}",
           # proposals in the moderators' group
           "Publish"},
    "gl": {"Cancel", "Comment:", "Continue", "Main menu", "Photo", "Previous", "Reply", "Send",
           "Team", "Accepted", "Opinion {ref} on {service}: {stars} ({date})", "Published",
           "Reason: {answer}", "Status: {status}", "Title: {title}", "{name}: off",
           "{name}: on", "administrator", "moderator", "Question {number} of {total}",
           # broadcasts
           "Cancel {ref}", "Kind: {kind}", "Pause {ref}", "Refresh", "Updated.", "cancelled",
           "draft", "paused", "sending",
           # stats
           "In all", "Participants", "Signed up", "This month", "This week", "average {average}",
           "average feedback {average}", "{score} of 5",
           # proposals in the moderators' group
           "Publish", "Published by {name}.", "{ref} is published."},
    "pt": {"Cancel", "Continue", "Language", "Language: {language}", "Previous", "Reply", "Send",
           "Skip", "Page {page} of {pages}", "Published", "Reason: {answer}", "Saved.",
           "Status: {status}", "Title: {title}", "{sorting} · page {page} of {pages}",
           "administrator", "moderator",
           # broadcasts
           "Cancel {ref}", "Kind: {kind}", "Pause {ref}", "cancelled",
           # stats
           "Participants", "Signed up", "This week", "{score} of 5",
           # proposals in the moderators' group
           "Publish", "Published by {name}.", "{ref} is published."},
}


def source_messages() -> set[str]:
    found: set[str] = set()
    for folder in ("conversations", "bot"):
        for _, _, message, _, _ in extract_from_dir(
                str(ROOT / folder), method_map=[("**.py", "python")], keywords=KEYWORDS):
            found.update([message] if isinstance(message, str) else message[:1])
    return found


def template() -> set[str]:
    with (locale_dir() / "messages.pot").open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def catalog_strings(language: str) -> dict[str, str | tuple[str, ...]]:
    """msgid (the singular for plurals) → its translation, in one catalog."""
    with (locale_dir() / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog if m.id}


def has_words(text: str) -> bool:
    """Letters left once the placeholders and HTML tags are taken out."""
    return any(char.isalpha() for char in _TAG.sub("", _PLACEHOLDER.sub("", text)))


def may_equal_spanish(language: str, msgid: str, translated: str | tuple[str, ...]) -> bool:
    texts = translated if isinstance(translated, tuple) else (translated,)
    return (msgid in SAME_AS_SPANISH.get(language, set())
            or all(text in NAMES or not has_words(text) for text in texts))


def test_the_template_holds_every_string_in_the_code():
    missing = source_messages() - template()
    stale = template() - source_messages()
    assert not missing, f"run pybabel extract (see README): not in messages.pot: {missing}"
    assert not stale, f"strings no longer in the code, still in messages.pot: {stale}"


def test_spanish_and_english_catalogs_exist():
    assert {"es", "en"} <= set(available_languages())


@pytest.mark.parametrize("language", available_languages())
def test_catalog_is_complete_and_safe(language: str):
    with (locale_dir() / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    ids = template()
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert ids - set(entries) == set(), f"{language}: run pybabel update (see README)"
    for msgid in ids:
        entry = entries[msgid]
        assert not entry.fuzzy, f"{language}: fuzzy entry {msgid!r}"
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for translated in translations:
            assert translated, f"{language}: untranslated {msgid!r}"
            assert placeholders(translated) == placeholders(msgid), \
                f"{language}: placeholders differ in {msgid!r}"
            assert sorted(_TAG.findall(translated)) == sorted(_TAG.findall(msgid)), \
                f"{language}: HTML tags differ in {msgid!r}"


@pytest.mark.parametrize("language", [code for code in available_languages()
                                      if code not in ("es", "en")])
def test_translations_are_not_left_in_spanish(language: str):
    spanish = catalog_strings("es")
    copied = sorted(msgid for msgid, translated in catalog_strings(language).items()
                    if translated == spanish.get(msgid)
                    and not may_equal_spanish(language, msgid, translated))
    assert not copied, (f"{language}: still the Spanish text (translate it, or if it really is "
                        f"the same word, add it to SAME_AS_SPANISH): {copied}")


@pytest.mark.parametrize("language", available_languages())
def test_button_names_in_sentences_match_the_buttons(language: str):
    """“Continue” in a sentence is the translated “Continue” button, word for word."""
    catalog = catalog_strings(language)
    for msgid, translated in catalog.items():
        for button in _QUOTED.findall(msgid):
            label = catalog.get(button)
            assert isinstance(label, str), f"{msgid!r} quotes {button!r}, not a message itself"
            assert label in str(translated), \
                f"{language}: {msgid!r} names the button {label!r}, not found in {translated!r}"
