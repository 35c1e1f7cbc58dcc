"""Who may do what: roles, and the one place staff commands are checked.

Roles rank: a moderator answers citizens, staff also run workshops and
broadcasts, an admin also grants roles. A higher role includes the lower
ones. ``ADMIN_IDS`` makes admins of those Telegram ids without any row, so
a fresh installation has someone who can grant the rest.

Staff commands register here with the least role they need. The command
router asks :func:`allowed` before running one; to anyone without the role
it answers exactly as an unknown command does, so the command's existence
is not revealed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conversations.flow import Ctx, Go
    from conversations.vocabulary import Event

CITIZEN, MODERATOR, STAFF, ADMIN = "citizen", "moderator", "staff", "admin"
RANK = {CITIZEN: 0, MODERATOR: 1, STAFF: 2, ADMIN: 3}
GRANTABLE = (MODERATOR, STAFF, ADMIN)


def highest(roles: set[str] | frozenset[str]) -> str:
    return max(roles, key=RANK.__getitem__, default=CITIZEN)


def includes(held: str, needed: str) -> bool:
    return RANK[held] >= RANK[needed]


async def role_of(ctx: Ctx) -> str:
    """The highest role of the person behind this event."""
    if ctx.event.user.id in ctx.settings.admin_ids:
        return ADMIN
    if ctx.citizen is None:
        return CITIZEN
    return highest(await ctx.uow.citizens.roles(ctx.citizen.id))


Handler = Callable[["Event", "Ctx"], Awaitable["Go"]]


@dataclass(frozen=True)
class StaffCommand:
    name: str
    role: str
    description: str  # marked with N_ by the registering module
    handler: Handler


STAFF_COMMANDS: dict[str, StaffCommand] = {}


def staff_command(name: str, role: str, description: str) -> Callable[[Handler], Handler]:
    """Register ``/name`` for people holding ``role`` or a higher one."""
    if role not in GRANTABLE:
        raise ValueError(f"unknown role {role!r}")

    def register(handler: Handler) -> Handler:
        if name in STAFF_COMMANDS:
            raise ValueError(f"/{name} is registered twice")
        STAFF_COMMANDS[name] = StaffCommand(name, role, description, handler)
        return handler
    return register


def commands_for(role: str) -> list[StaffCommand]:
    """The staff commands a role may use, in registration order (for menus and /help)."""
    return [c for c in STAFF_COMMANDS.values() if includes(role, c.role)]


async def allowed(name: str, ctx: Ctx) -> StaffCommand | None:
    """The staff command ``/name`` if this person may use it, else None."""
    command = STAFF_COMMANDS.get(name)
    if command is None or not includes(await role_of(ctx), command.role):
        return None
    return command
