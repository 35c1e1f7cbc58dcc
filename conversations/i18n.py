"""Translations: gettext catalogs managed with Babel, compiled at load time.

The ``.po`` files in ``locale/`` are the source of truth; they are compiled
in memory when the process starts, so a stale ``.mo`` can never ship.
"""

from __future__ import annotations

import gettext
import importlib.util
import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

DOMAIN = "messages"
DEFAULT_LANGUAGE = "es"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def locale_dir() -> Path:
    """The catalogs: the source tree's ``locale/`` or the installed copy."""
    source = Path(__file__).resolve().parent.parent / "locale"
    if (source / f"{DOMAIN}.pot").exists():
        return source
    # Installed: a folder without __init__.py, i.e. a namespace package, whose
    # resources.files() is a MultiplexedPath (str() of it is not a path).
    spec = importlib.util.find_spec("participa_locale")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("translation catalogs not found (participa_locale)")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def available_languages() -> tuple[str, ...]:
    """Languages with a catalog, Spanish (the default) first."""
    found = {p.parent.parent.name for p in locale_dir().glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    found.add(DEFAULT_LANGUAGE)
    return (DEFAULT_LANGUAGE, *sorted(found - {DEFAULT_LANGUAGE}))


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    po = locale_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def normalise_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Telegram's ``language_code`` to a catalog we have: ``pt-br`` → ``pt``."""
    if not code:
        return default
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in available_languages() else default


def language_name(code: str) -> str:
    """The language's own name, capitalised: "español", "English" → "Español"."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def pick(texts: dict[str, str] | None, language: str, default: str = DEFAULT_LANGUAGE) -> str:
    """Translatable content: the language asked for, else the default, else any."""
    if not texts:
        return ""
    return texts.get(language) or texts.get(default) or next(iter(texts.values()))


@dataclass(frozen=True, slots=True)
class Translator:
    """Everything language-dependent a flow needs, for one person."""

    language: str
    timezone: ZoneInfo

    def gettext(self, message: str) -> str:
        return _catalog(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _catalog(self.language).ngettext(singular, plural, n)

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.language)

    def datetime(self, value: datetime, fmt: str = "medium") -> str:
        return format_datetime(value, fmt, tzinfo=self.timezone, locale=self.language)

    def date(self, value: datetime, fmt: str = "full") -> str:
        """The local date of an instant (in ``timezone``), e.g. "Tuesday, 1 December 2026"."""
        return format_date(value.astimezone(self.timezone).date(), fmt, locale=self.language)

    def time(self, value: datetime, fmt: str = "short") -> str:
        return format_time(value, fmt, tzinfo=self.timezone, locale=self.language)


@cache
def translator(language: str, timezone: str = "Europe/Madrid") -> Translator:
    return Translator(language, ZoneInfo(timezone))
