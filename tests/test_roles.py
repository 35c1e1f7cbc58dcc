"""Staff commands are checked in one place: without the role they do not exist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conversations import roles
from conversations.flow import Ctx, Go, stay
from conversations.i18n import N_
from conversations.vocabulary import Event, Send
from storage import models as m
from tests.harness import NOW, Person, make_engine


@pytest.fixture
def probe_command() -> Iterator[str]:
    """A staff command for the test only, removed afterwards."""
    @roles.staff_command("probe", roles.STAFF, N_("Main menu"))
    async def probe(event: Event, ctx: Ctx) -> Go:
        return stay(f"probe ran for {event.user.id}")

    yield "probe"
    del roles.STAFF_COMMANDS["probe"]


def texts(outcome) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.text for r in outcome.replies if isinstance(r, Send)]


async def test_a_citizen_gets_the_unknown_command_answer(sql_backend, probe_command):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(sql_backend))
    await ana.consent()
    unknown = texts(await ana.command("/nosuchthing"))[0]
    answer = texts(await ana.command("/probe"))[0]
    assert answer == unknown.replace("/nosuchthing", "/probe")
    assert "probe ran" not in answer
    assert "/probe" not in texts(await ana.command("/help"))[0]


async def test_a_granted_role_runs_the_command_and_help_lists_it(sql_backend, probe_command):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    ana = Person(make_engine(sql_backend))
    await ana.consent()
    async with sql_backend.sessions() as session:
        citizen_id = (await session.execute(
            select(m.Citizen.id).where(m.Citizen.telegram_id == ana.id))).scalar_one()
        session.add(m.Role(citizen_id=citizen_id, role="moderator", granted_at=NOW))
        await session.commit()
    # A moderator is below staff: still unknown to them.
    assert "probe ran" not in texts(await ana.command("/probe"))[0]
    async with sql_backend.sessions() as session:
        session.add(m.Role(citizen_id=citizen_id, role="staff", granted_at=NOW))
        await session.commit()
    assert texts(await ana.command("/probe"))[0].startswith(f"probe ran for {ana.id}")
    help_text = texts(await ana.command("/help"))[0]
    assert "As staff you can also use:" in help_text
    assert "/probe — Main menu" in help_text


async def test_admin_ids_are_admins_without_a_row(sql_backend, probe_command):  # type: ignore[no-untyped-def]
    boss = Person(make_engine(sql_backend, admin_ids=frozenset({777})), id=777)
    # Even before accepting the privacy notice: the bootstrap admin must be able to act.
    assert texts(await boss.command("/probe"))[0].startswith("probe ran for 777")
    await boss.consent()
    assert "As administrator you can also use:" in texts(await boss.command("/help"))[0]


def test_ranks_include_the_roles_below():
    assert roles.includes(roles.ADMIN, roles.STAFF)
    assert roles.includes(roles.STAFF, roles.MODERATOR)
    assert not roles.includes(roles.MODERATOR, roles.STAFF)
    assert not roles.includes(roles.CITIZEN, roles.MODERATOR)
    assert roles.highest(frozenset({"moderator", "admin"})) == roles.ADMIN
    with pytest.raises(ValueError):
        roles.staff_command("x", "citizen", "")
