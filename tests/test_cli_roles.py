"""participa roles grant|revoke|list: audited, and the person's menu follows."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from bot.cli import main
from storage import migrate
from storage import models as m
from storage.database import create_engine, session_factory
from tests.harness import NOW


async def _rows(url: str, model):  # type: ignore[no-untyped-def]
    db = create_engine(url)
    try:
        async with session_factory(db)() as session:
            return (await session.execute(select(model))).scalars().all()
    finally:
        await db.dispose()


async def _citizen(url: str) -> None:
    db = create_engine(url)
    try:
        async with session_factory(db)() as session:
            session.add(m.Citizen(telegram_id=4242, username="lola", first_name="Lola",
                                  language="gl", first_seen=NOW, last_seen=NOW))
            await session.commit()
    finally:
        await db.dispose()


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    asyncio.run(_citizen(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ADMIN_IDS", "77")
    monkeypatch.chdir(tmp_path)  # no .env file here
    return url


def test_grant_list_and_revoke_from_the_command_line(database, capsys):  # type: ignore[no-untyped-def]
    assert main(["roles", "grant", "staff", "@LOLA"]) == 0
    assert capsys.readouterr().out == "4242: staff granted\n"
    assert main(["roles", "list"]) == 0
    assert capsys.readouterr().out == "4242\tLola @lola\tstaff\n77\t(ADMIN_IDS)\tadmin\n"
    assert main(["roles", "revoke", "staff", "4242"]) == 0
    assert capsys.readouterr().out == "4242: staff revoked\n"
    [granted, revoked] = asyncio.run(_rows(database, m.AuditEntry))
    assert (granted.action, granted.actor_telegram_id, granted.target_telegram_id) == \
        ("grant", None, 4242)
    assert revoked.action == "revoke"
    menus = [json.loads(r.body) for r in asyncio.run(_rows(database, m.OutboxMessage))]
    assert "inbox" in [c[0] for c in menus[0]["gl"]] and menus[1]["gl"] == []


def test_an_unknown_person_is_explained(database, capsys):  # type: ignore[no-untyped-def]
    assert main(["roles", "grant", "moderator", "@nobody"]) == 1
    assert "Telegram does not let a bot look a user up by username" in capsys.readouterr().err
