"""Roles and the audit log: /grant, /revoke, /roles, /audit.

Who a command acts on is named by a numeric Telegram id, an @username the
bot has already seen, or (in the moderators' group) by replying to one of
the person's ticket messages. The Bot API cannot look a user up by
username, so an unknown one is answered with what to use instead.

Every grant and revoke is written to the audit log and changes the person's
own command menu (setMyCommands for their private chat, through the outbox):
staff commands appear only to those who hold a role.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from conversations import roles
from conversations.callback import CallbackData
from conversations.commands import CITIZEN_COMMANDS, ROLE_NAMES
from conversations.flow import Ctx, Flow, Go, global_button, stay
from conversations.flows.tickets import ticket_in_context
from conversations.i18n import N_, available_languages, translator
from conversations.text import escape
from conversations.vocabulary import Edit, Event, Send, SetCommands
from storage.records import PersonRecord
from storage.unit_of_work import UnitOfWork

staff = Flow("staff", entry="", needs_consent=False)

AUDIT_PAGE = 10
ACTION_LABELS = {
    "grant": N_("granted"),
    "revoke": N_("revoked"),
    "hide": N_("hid"),
    "block": N_("blocked"),
    "unblock": N_("unblocked"),
    "publish": N_("published"),
    "reject": N_("rejected"),
}


def display_name(person: PersonRecord) -> str:
    """How a person is named to staff (escaped): name, @username and id."""
    parts = [escape(person.first_name or "")]
    if person.username:
        parts.append("@" + escape(person.username))
    parts.append(f"({person.telegram_id})")
    return " ".join(p for p in parts if p)


Menus = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def command_menus(role: str, default_language: str) -> Menus:
    """The menu a role sees, per language ("" for any other language); empty
    for a citizen, whose chat then falls back to the bot's default menu."""
    extra = roles.commands_for(role)
    menus = []
    for language in ("", *available_languages()):
        t = translator(language or default_language)
        listed = [(name, t.gettext(text)) for name, text in CITIZEN_COMMANDS]
        listed += [(c.name, t.gettext(c.description)) for c in extra]
        menus.append((language, tuple(listed) if extra else ()))
    return tuple(menus)


def menu_for(telegram_id: int, role: str, default_language: str) -> SetCommands:
    """This person's own command menu after a change of role (removed for a citizen)."""
    return SetCommands(telegram_id, command_menus(role, default_language))


async def change_role(uow: UnitOfWork, person: PersonRecord, role: str, grant: bool,
                      actor: int | None, now: datetime, default_language: str,
                      ) -> tuple[bool, SetCommands]:
    """Grant or revoke, audit it, and the person's new menu. Shared with the CLI."""
    if grant:
        changed = await uow.staff.grant(person.citizen_id, role, actor, now)
        held = person.roles | {role}
    else:
        changed = await uow.staff.revoke(person.citizen_id, role)
        held = person.roles - {role}
    if changed:
        await uow.audit.record(actor, "grant" if grant else "revoke", role, now,
                               target_telegram_id=person.telegram_id)
    return changed, menu_for(person.telegram_id, roles.highest(held), default_language)


async def refresh_menus(uow: UnitOfWork, admin_ids: frozenset[int], default_language: str,
                        now: datetime) -> int:
    """Queue every role holder's menu again (at start: a new version may add staff
    commands). The dedupe key holds the menu's content, so an unchanged menu is
    not sent again at every restart; how many were queued."""
    from conversations.engine import notification

    holders = {p.telegram_id: roles.highest(p.roles) for p in await uow.staff.holders()}
    holders.update({admin: roles.ADMIN for admin in admin_ids})
    queued = 0
    for telegram_id, role in holders.items():
        menu = menu_for(telegram_id, role, default_language)
        digest = hashlib.sha256(repr(menu.menus).encode()).hexdigest()[:16]
        keyed = SetCommands(telegram_id, menu.menus, key=f"menu:{telegram_id}:{digest}")
        queued += await uow.outbox.enqueue(notification(keyed, now)) is not None
    return queued


async def find_person(event: Event, ctx: Ctx, target: str) -> PersonRecord | str:
    """The person a command names, or a polite explanation of why not."""
    target = target.strip()
    if target.startswith("@"):
        found = await ctx.uow.staff.by_username(target[1:])
        if found is None:
            return ctx._(N_("I don't know {username}. Telegram does not let a bot look a "
                            "person up by username: I only know people who have written to "
                            "me. Use their numeric id, or reply with the command to their "
                            "ticket in the moderators' group.")).format(
                username=escape(target))
        return found
    if target.lstrip("-").isdigit() and len(target) < 19:
        found = await ctx.uow.staff.by_telegram_id(int(target))
        if found is None:
            return ctx._(N_("Nobody with the id {id} has accepted the privacy notice yet. Ask "
                            "them to write /start to the bot first.")).format(id=escape(target))
        return found
    if not target and ctx.in_moderators_chat:
        ticket = await ticket_in_context(ctx)
        if ticket is not None and ticket.citizen_id is not None:
            person = await ctx.uow.staff.by_citizen_id(ticket.citizen_id)
            if person is not None:
                return person
    return ctx._(N_("Whom do you mean? Give a numeric id or an @username, or reply with the "
                    "command to their ticket in the moderators' group."))


def _usage(ctx: Ctx, command: str) -> Go:
    return stay(ctx._(N_("Use it like this: /{command} ROLE ID, /{command} ROLE @username, or "
                         "reply with /{command} ROLE to a ticket. ROLE is moderator, staff or "
                         "admin.")).format(command=command))


async def _role_command(event: Event, ctx: Ctx, grant: bool) -> Go:
    name = "grant" if grant else "revoke"
    role, _, target = event.args.strip().partition(" ")
    role = role.lower()
    if role not in roles.GRANTABLE:
        return _usage(ctx, name)
    person = await find_person(event, ctx, target)
    if isinstance(person, str):
        return stay(person)
    changed, menu = await change_role(ctx.uow, person, role, grant, event.user.id, ctx.now,
                                      ctx.settings.default_language)
    role_name = ctx._(ROLE_NAMES[role])
    if grant:
        text = ctx._(N_("{person} is now {role}.")) if changed else \
            ctx._(N_("{person} was already {role}."))
    else:
        text = ctx._(N_("{person} is no longer {role}.")) if changed else \
            ctx._(N_("{person} was not {role}."))
    replies = (menu,) if changed else ()
    return Go(notice=text.format(person=display_name(person), role=role_name), replies=replies)


@roles.staff_command("grant", roles.ADMIN, N_("Give someone a role"))
async def grant(event: Event, ctx: Ctx) -> Go:
    return await _role_command(event, ctx, grant=True)


@roles.staff_command("revoke", roles.ADMIN, N_("Take a role away"))
async def revoke(event: Event, ctx: Ctx) -> Go:
    return await _role_command(event, ctx, grant=False)


@roles.staff_command("roles", roles.ADMIN, N_("Who holds a role"))
async def list_roles(event: Event, ctx: Ctx) -> Go:
    lines = ["<b>" + ctx._(N_("Roles")) + "</b>"]
    for person in await ctx.uow.staff.holders():
        held = sorted(person.roles, key=roles.RANK.__getitem__)
        lines.append(f"• {display_name(person)}: "
                     + ", ".join(ctx._(ROLE_NAMES[r]) for r in held))
    for admin in sorted(ctx.settings.admin_ids):
        lines.append(f"• ({admin}): " + ctx._(ROLE_NAMES[roles.ADMIN]) + " (ADMIN_IDS)")
    if len(lines) == 1:
        lines.append(ctx._(N_("Nobody holds a role yet.")))
    return stay("\n".join(lines))


def _named(name: str | None, telegram_id: int) -> str:
    return f"{escape(name)} ({telegram_id})" if name else f"({telegram_id})"


async def audit_page(ctx: Ctx, offset: int) -> tuple[str, tuple]:
    entries, total = await ctx.uow.audit.latest(offset, AUDIT_PAGE)
    if not entries:
        return ctx._(N_("The audit log is empty.")), ()
    lines = ["<b>" + ctx._(N_("Audit log")) + "</b> " + ctx._(N_("(newest first)"))]
    for entry in entries:
        actor = _named(entry.actor_name, entry.actor_telegram_id) \
            if entry.actor_telegram_id is not None else escape(ctx._(N_("command line")))
        line = f"{ctx.t.datetime(entry.created_at, 'short')} · {actor} " \
            f"{ctx._(ACTION_LABELS.get(entry.action, entry.action))} {escape(entry.target)}"
        if entry.target_telegram_id is not None:
            line += " → " + _named(entry.target_name, entry.target_telegram_id)
        if entry.reason:
            line += " — " + escape(entry.reason)
        lines.append(line)
    nav = []
    if offset > 0:
        nav.append(global_button("◀️ " + ctx._(N_("Newer")), "staff", "audit",
                                 max(offset - AUDIT_PAGE, 0)))
    if offset + AUDIT_PAGE < total:
        nav.append(global_button(ctx._(N_("Older")) + " ▶️", "staff", "audit",
                                 offset + AUDIT_PAGE))
    return "\n".join(lines), ((*nav,),) if nav else ()


@roles.staff_command("audit", roles.STAFF, N_("The latest moderation and role changes"))
async def audit(event: Event, ctx: Ctx) -> Go:
    text, buttons = await audit_page(ctx, 0)
    return Go(show=False, replies=(Send(text, buttons),))


@staff.action("audit")
async def audit_more(data: CallbackData, ctx: Ctx) -> Go:
    if not roles.includes(await roles.role_of(ctx), roles.STAFF):
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    text, buttons = await audit_page(ctx, data.int_id() or 0)
    return Go(show=False, replies=(Edit(text, buttons),))
