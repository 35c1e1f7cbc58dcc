"""First contact: welcome in the citizen's language, privacy notice, consent."""

from __future__ import annotations

import pytest

from conversations.i18n import available_languages, language_name, normalise_language
from tests.harness import Person, make_engine


@pytest.mark.parametrize(("code", "expected"), [
    ("en-GB", "en"), ("EN", "en"), ("es", "es"), ("fr-FR", "es"), ("xx", "es"), (None, "es"),
])
def test_telegram_language_codes_map_to_catalogs(code, expected):  # type: ignore[no-untyped-def]
    assert normalise_language(code) == expected


@pytest.mark.parametrize(("code", "expected"), [
    ("ca", "ca"), ("gl", "gl"), ("eu", "eu"), ("pt-br", "pt"), ("pt-PT", "pt"),
])
def test_co_official_languages_and_portuguese_have_catalogs(code, expected):  # type: ignore[no-untyped-def]
    assert normalise_language(code) == expected


async def test_a_galician_citizen_is_welcomed_in_galician(backend):  # type: ignore[no-untyped-def]
    xosé = Person(make_engine(backend), language="gl")
    await xosé.command("/start")
    assert "Ola! Esta é a canle de participación" in xosé.shown
    assert "Escolle a túa lingua e preme “Continuar”." in xosé.shown
    # Spanish first, then every catalog by its code (a new language joins the list).
    assert {"Español", "Català", "English", "Euskara", "Galego ✓", "Português"} <= \
        set(xosé.labels())
    assert xosé.labels() == [language_name(code) + (" ✓" if code == "gl" else "")
                             for code in available_languages()] + ["Continuar ➡️"]
    await xosé.press("Continuar")
    assert "A túa privacidade" in xosé.shown
    assert {"✅ De acordo", "Non, grazas"} <= set(xosé.labels())


async def test_first_contact_welcomes_in_the_citizens_language(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend), language="en-GB")
    await ana.command("/start")
    assert "Hello! This is the participation channel" in ana.shown
    assert "Continue ➡️" in ana.labels()
    assert {"Español", "English ✓"} <= set(ana.labels())


async def test_unknown_language_falls_back_to_spanish(backend):  # type: ignore[no-untyped-def]
    xosé = Person(make_engine(backend), language="zz")
    await xosé.command("/start")
    assert "Español ✓" in xosé.labels()
    assert "Continuar ➡️" in xosé.labels()


async def test_nothing_is_stored_before_ok_and_consent_is_a_row(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend, privacy_version="3"))
    await ana.command("/start")
    await ana.press("Español")
    await ana.press("Continuar")
    assert "Tu privacidad" in ana.shown
    assert await backend.citizen(ana.id) is None
    await ana.press("OK")
    citizen = await backend.citizen(ana.id)
    assert citizen is not None and citizen["language"] == "es"
    consents = await backend.consents()
    assert len(consents) == 1
    consent = consents[0]
    assert consent.get("purpose") == "privacy"
    assert consent.get("text_version", consent.get("version")) == "3"
    assert "¿Qué quieres hacer?" in ana.shown


async def test_privacy_notice_names_controller_contact_and_retention(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend, controller_name="Junta <Test> & Co",
                             controller_contact="dpd@junta.example", retention_days=365))
    await ana.command("/start")
    await ana.press("Continue")
    assert "Junta &lt;Test&gt; &amp; Co" in ana.shown
    assert "dpd@junta.example" in ana.shown
    assert "365 days" in ana.shown


async def test_declining_stores_nothing_and_can_be_undone(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend))
    await ana.command("/start")
    await ana.press("Continue")
    await ana.press("No thanks")
    assert "we have not stored anything about you" in ana.shown
    await ana.text("I want to complain")
    assert await backend.count("citizens") == 0
    await ana.press("I changed my mind")
    await ana.press("OK")
    assert await backend.count("citizens") == 1


async def test_anything_before_consent_leads_to_the_welcome(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend))
    await ana.text("hola")
    assert "Hello! This is the participation channel" in ana.shown
    await ana.media("sticker")
    assert "please choose your language" in ana.shown
    await ana.command("/menu")
    assert "Continue ➡️" in ana.labels()
    assert await backend.count("citizens") == 0


async def test_language_choice_before_consent_is_kept_until_ok(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend), language="es")
    await ana.command("/start")
    await ana.press("English")
    assert "English ✓" in ana.labels()
    await ana.press("Continue")
    await ana.press("OK")
    assert (await backend.citizen(ana.id))["language"] == "en"


async def test_start_again_after_consent_goes_to_the_menu(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend))
    await ana.consent()
    await ana.command("/start")
    assert "Welcome back!" in ana.shown
    assert "💬 Give my opinion" in ana.labels()
    assert await backend.count("consents") == 1
