"""Answering citizens: tickets between a citizen and the moderators' group.

```mermaid
stateDiagram-v2
    [*] --> write: Ask or tell us something
    write --> menu.idle: text, voice note or photo (ticket T-000012 opened)
    [*] --> reply: "Reply" under an answer from the team
    reply --> menu.idle: text, voice note or photo (added to the same ticket)
```

A citizen also opens a ticket by ticking "I'd like an answer" when giving
an opinion. Each ticket reaches the moderators' group through the outbox:
in its own forum topic when the group has topics (``MODERATORS_TOPICS``),
otherwise as a message with "I'll take it" / "Close". Voice notes and
photos are copied, never uploaded again.

Moderators answer by replying to any of the ticket's messages, by writing
in its topic, or with ``/reply T-12 text``; the answer reaches the citizen
as from the team with "Reply" / "Solved, thanks". The ticket links both
sides by message ids it stores, never by the forward (a citizen may hide
who they are in forwards). Closing asks the citizen once how satisfied
they were (1-5).

**Forum topics and restarts.** Creating the topic is an outbox row of its
own (``Topic``), queued in the same transaction as the ticket; the ticket's
posts are queued beside it as *held* rows. When the topic exists, its hook
(``ticket_topic``) stores the topic id, once (a conditional UPDATE), and
releases the held rows into it. A restart before the topic was created
sends it then; a crash between createForumTopic and recording it creates
the topic again (the outbox's duplicate window) and the second one stays
empty: the posts go to whichever was recorded first, never to both, and
none is lost. A post queued in the very instant the hook ran is released
by the sender's periodic sweep (``OutboxStore.release_held_for_topics``).
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime, timedelta

from conversations import roles
from conversations.callback import CallbackData
from conversations.flow import (
    Ctx,
    Flow,
    Go,
    Gone,
    Screen,
    State,
    free_text,
    global_button,
    stay,
)
from conversations.flows.menu import journey
from conversations.flows.onboarding import PRIVACY_PURPOSE
from conversations.i18n import N_, Translator, translator
from conversations.sent_hooks import sent_hook
from conversations.text import escape, reference
from conversations.vocabulary import (
    Answer,
    Button,
    Copy,
    Edit,
    Event,
    Keyboard,
    Media,
    Notify,
    Reply,
    Send,
    Topic,
)
from storage.records import TicketRecord
from storage.unit_of_work import UnitOfWork

ACCEPTED_MEDIA = ("voice", "photo")
#: Text typed (instead of pressing "Reply") this long after the team's answer
#: still goes into that ticket.
REPLY_WINDOW = timedelta(hours=24)
TEXT_LIMIT = 3500  # leaves room for the header in Telegram's 4,096 characters
PREVIEW = 300

tickets = Flow("tk", entry="write")


def ticket_ref(ticket_id: int) -> str:
    return reference("T", ticket_id)


def parse_ref(text: str) -> int | None:
    """T-12, T-000012, t12 or 12 → 12."""
    value = text.strip().upper().removeprefix("T").lstrip("-")
    return int(value) if value.isdigit() and len(value) < 12 else None


def group_t(ctx: Ctx) -> Translator:
    """The moderators' group reads the default language."""
    return translator(ctx.settings.default_language, ctx.settings.timezone)


def citizen_t(ctx: Ctx, ticket: TicketRecord) -> Translator:
    return translator(ticket.language, ctx.settings.timezone)


async def moderators_chat(ctx: Ctx) -> int | None:
    """The moderators' group's id now (it changes when it becomes a supergroup)."""
    if ctx.settings.moderators_chat_id is None:
        return None
    return await ctx.uow.chats.current_id(ctx.settings.moderators_chat_id)


def _who(ticket: TicketRecord) -> str:
    name = escape(ticket.citizen_name or "") or "—"
    return f"{name} (@{escape(ticket.citizen_username)})" if ticket.citizen_username else name


def _media_line(t: Translator, kind: str | None) -> str:
    if kind == "voice":
        return "🎤 " + t.gettext(N_("Voice note"))
    if kind == "photo":
        return "📷 " + t.gettext(N_("Photo"))
    return ""


def post_text(t: Translator, ticket: TicketRecord, first: str | None,
              media_kind: str | None) -> str:
    """The ticket's message in the group: reference, who, status, what they wrote."""
    lines = [f"🎫 <b>{ticket_ref(ticket.id)}</b> · {_who(ticket)} · {ticket.language}"]
    if ticket.opinion_id is not None:
        lines.append(t.gettext(N_("About their opinion {ref}.")).format(
            ref=reference("OP", ticket.opinion_id)))
    if ticket.status == "assigned":
        lines.append("👤 " + t.gettext(N_("Taken by {name}")).format(
            name=escape(ticket.assignee_name or "")))
    elif ticket.status == "closed":
        lines.append("✅ " + t.gettext(N_("Closed")))
    body = [x for x in (_media_line(t, media_kind), escape(first)) if x]
    return "\n".join(lines) + ("\n\n" + "\n".join(body) if body else "")


def post_buttons(t: Translator, ticket: TicketRecord) -> Keyboard:
    if ticket.status == "closed":
        return ()
    row = []
    if ticket.status == "open":
        row.append(global_button("🙋 " + t.gettext(N_("I'll take it")), "tk", "take",
                                 ticket.id))
    row.append(global_button("✅ " + t.gettext(N_("Close")), "tk", "close", ticket.id))
    return (tuple(row),)


async def _first_message(ctx: Ctx, ticket: TicketRecord) -> tuple[str | None, str | None]:
    thread = await ctx.uow.tickets.thread(ticket.id)
    return (thread[0].text, thread[0].media_kind) if thread else (None, None)


# -- the citizen's side ----------------------------------------------------------------

# Last in the main menu: the participation journeys come first.
@journey("tk", N_("✉️ Ask or tell us something"), order=900)
async def start(ctx: Ctx) -> Go:
    return Go("tk.write")


class Writing(State):
    """A message for the team: text, voice note or photo (each state says what
    receiving one means)."""

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        if media.kind not in ACCEPTED_MEDIA or not media.file_id:
            return stay(ctx._(N_("I can take a text message, a voice note or a photo here.")))
        caption = (ctx.event.text or "").strip()[:TEXT_LIMIT] or None
        return await self.received(caption, media, ctx)

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        if not text:
            return stay(ctx._(N_("The message is empty. Please write what you want to tell "
                                 "us.")))
        if len(text) > TEXT_LIMIT:
            return stay(ctx._(N_("Your message has {length} characters and the limit is {max}. "
                                 "Please shorten it and send it again; nothing was saved "
                                 "yet.")).format(length=ctx.t.number(len(text)),
                                                 max=ctx.t.number(TEXT_LIMIT)))
        return await self.received(text, None, ctx)

    @abstractmethod
    async def received(self, text: str | None, media: Media | None, ctx: Ctx) -> Go: ...


@tickets.state("write")
class Write(Writing):
    help = N_("Write your question or what you want to tell the team, or send a voice note "
              "or a photo. They will answer you in this chat.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("What would you like to ask or tell us? Write a message, send "
                               "a voice note or a photo. The team will answer you here.")),
                      ((ctx.button("✖️ " + ctx._(N_("Cancel")), "cancel"),),))

    async def received(self, text: str | None, media: Media | None, ctx: Ctx) -> Go:
        assert ctx.citizen is not None
        ticket_id, replies = await open_ticket(
            ctx, text, media.kind if media else None, media.file_id if media else None,
            ctx.event.message_id)
        notice = ctx._(N_("✅ Thank you. Your message is saved with the reference <b>{ref}</b>. "
                          "The team will answer you in this chat.")).format(
            ref=ticket_ref(ticket_id))
        return Go("menu.idle", notice=notice, replies=tuple(replies))


@tickets.state("reply")
class ReplyToTeam(Writing):
    help = N_("Write your reply to the team, or send a voice note or a photo. /cancel stops.")

    async def show(self, ctx: Ctx) -> Screen:
        ticket = await own_ticket(ctx, ctx.data.get("ticket_id"))
        return Screen(ctx._(N_("Write your reply about {ref}, or send a voice note or a "
                               "photo.")).format(ref=ticket_ref(ticket.id)),
                      ((ctx.button("✖️ " + ctx._(N_("Cancel")), "cancel"),),))

    async def received(self, text: str | None, media: Media | None, ctx: Ctx) -> Go:
        ticket = await own_ticket(ctx, ctx.data.get("ticket_id"))
        replies = await relay_from_citizen(ctx, ticket, text, media.kind if media else None,
                                           media.file_id if media else None,
                                           ctx.event.message_id)
        notice = ctx._(N_("✅ Sent. The team will answer you here ({ref}).")).format(
            ref=ticket_ref(ticket.id))
        return Go("menu.idle", notice=notice, replies=tuple(replies))


async def own_ticket(ctx: Ctx, ticket_id: object) -> TicketRecord:
    """The citizen's own ticket, still open (else Gone)."""
    ticket = await ctx.uow.tickets.get(ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None or ctx.citizen is None or ticket.citizen_id != ctx.citizen.id \
            or ticket.status == "closed":
        raise Gone
    return ticket


async def open_ticket(ctx: Ctx, text: str | None, media_kind: str | None,
                      media_file_id: str | None, message_id: int | None, *,
                      opinion_id: int | None = None) -> tuple[int, list[Reply]]:
    """Store a new ticket and its first message; what goes to the group."""
    assert ctx.citizen is not None
    ticket_id = await ctx.uow.tickets.open(ctx.citizen.id, ctx.language, ctx.now,
                                           opinion_id=opinion_id)
    blocked = await _held_back(ctx)
    group = None if blocked else await moderators_chat(ctx)
    message = await ctx.uow.tickets.add_message(
        ticket_id, "in", ctx.event.user.id, text, ctx.now, media_kind=media_kind,
        media_file_id=media_file_id, citizen_message_id=message_id, group_chat_id=group)
    if blocked:
        return ticket_id, await _told_once(ctx)
    if group is None:
        return ticket_id, []  # no group configured: the ticket waits in /inbox
    await ctx.uow.tickets.placed(ticket_id, group)
    ticket = await ctx.uow.tickets.get(ticket_id)
    assert ticket is not None
    t = group_t(ctx)
    topics = ctx.settings.moderators_topics
    replies: list[Reply] = []
    if topics:
        name = f"{ticket_ref(ticket_id)} · {ticket.citizen_name or ''}".strip(" ·")
        replies.append(Topic(group, name, key=f"topic:{ticket_id}",
                             on_sent=f"ticket_topic:{ticket_id}"))
    replies.append(Notify(group, post_text(t, ticket, text, media_kind), post_buttons(t, ticket),
                          key=f"ticket:{ticket_id}:post", on_sent=f"ticket_post:{ticket_id}",
                          held=topics))
    if media_kind and message_id is not None:
        replies.append(Copy(ctx.event.user.id, message_id, group,
                            key=f"ticket:{ticket_id}:copy:{message}",
                            on_sent=f"ticket_msg:{message}", held=topics))
    return ticket_id, replies


async def relay_from_citizen(ctx: Ctx, ticket: TicketRecord, text: str | None,
                             media_kind: str | None, media_file_id: str | None,
                             message_id: int | None) -> list[Reply]:
    """The citizen's reply: into the same ticket, and to the group (its topic)."""
    blocked = await _held_back(ctx)
    group = None if blocked else await moderators_chat(ctx)
    message = await ctx.uow.tickets.add_message(
        ticket.id, "in", ctx.event.user.id, text, ctx.now, media_kind=media_kind,
        media_file_id=media_file_id, citizen_message_id=message_id, group_chat_id=group)
    if blocked:
        return await _told_once(ctx)
    if group is None:
        return []
    # In a forum whose topic is still being created, wait for it with the rest.
    held = ctx.settings.moderators_topics and ticket.topic_id is None
    t = group_t(ctx)
    header = "↩️ " + t.gettext(N_("{ref} · {who} replied:")).format(
        ref=f"<b>{ticket_ref(ticket.id)}</b>", who=_who(ticket))
    key = f"ticket:{ticket.id}:in:{message}"
    if media_kind and message_id is not None:
        caption = "\n" + escape(text) if text else ""
        return [Notify(group, f"{header} {_media_line(t, media_kind)}{caption}",
                       thread_id=ticket.topic_id, key=key, held=held),
                Copy(ctx.event.user.id, message_id, group, thread_id=ticket.topic_id,
                     key=key + ":copy", on_sent=f"ticket_msg:{message}", held=held)]
    return [Notify(group, f"{header}\n{escape(text)}", thread_id=ticket.topic_id, key=key,
                   on_sent=f"ticket_msg:{message}", held=held)]


async def _held_back(ctx: Ctx) -> bool:
    assert ctx.citizen is not None
    return await ctx.uow.moderation.is_blocked(ctx.citizen.id)


async def _told_once(ctx: Ctx) -> list[Reply]:
    """A blocked citizen's message is kept, not relayed; they are told once."""
    assert ctx.citizen is not None
    if not await ctx.uow.moderation.tell_once(ctx.citizen.id, ctx.now):
        return []
    return [Send(ctx._(N_("We have saved your message. The team is not taking new messages "
                          "from you at the moment; if you think this is a mistake, please "
                          "contact the administration through its usual channels.")))]


@free_text
async def reply_without_the_button(text: str, ctx: Ctx) -> Go | None:
    """Text typed where only buttons are expected, after an answer from the team
    in the last 24 hours: it is their reply, so it goes into that ticket (the
    most recently answered open one) rather than "please use the buttons"."""
    if not ctx.consented or ctx.citizen is None or ctx.in_moderators_chat:
        return None
    ticket = await ctx.uow.tickets.answered_since(ctx.citizen.id, ctx.now - REPLY_WINDOW)
    text = text.strip()
    if ticket is None or not text:
        return None
    if len(text) > TEXT_LIMIT:
        return stay(ctx._(N_("Your message has {length} characters and the limit is {max}. "
                             "Please shorten it and send it again; nothing was saved "
                             "yet.")).format(length=ctx.t.number(len(text)),
                                             max=ctx.t.number(TEXT_LIMIT)), show=False)
    replies = await relay_from_citizen(ctx, ticket, text, None, None, ctx.event.message_id)
    notice = "✅ " + ctx._(N_("Added to your question {ref}. The team will answer you "
                             "here.")).format(ref=ticket_ref(ticket.id))
    return Go(show=False, notice=notice, replies=tuple(replies))


@tickets.action("reply")
async def reply_button(data: CallbackData, ctx: Ctx) -> Go:
    if not ctx.consented:
        raise Gone
    ticket = await own_ticket(ctx, data.int_id())
    return Go("tk.reply", carry={"ticket_id": ticket.id}, answer=None)


@tickets.action("solved")
async def solved(data: CallbackData, ctx: Ctx) -> Go:
    if not ctx.consented:
        raise Gone
    ticket = await own_ticket(ctx, data.int_id())
    if not await ctx.uow.tickets.close(ticket.id, "citizen", ctx.now):
        raise Gone
    replies: list[Reply] = [survey(ctx.t, ticket, send=True)]
    group = await moderators_chat(ctx)
    if group is not None:
        t = group_t(ctx)
        replies.append(Notify(group, "✅ " + t.gettext(N_("{ref}: the citizen marked it as "
                                                         "solved.")).format(
            ref=f"<b>{ticket_ref(ticket.id)}</b>"), thread_id=ticket.topic_id,
            key=f"ticket:{ticket.id}:solved"))
    return Go(show=False, answer=ctx._(N_("Thank you!")), replies=tuple(replies))


def survey(t: Translator, ticket: TicketRecord, *, send: bool = False) -> Send | Notify:
    """The one question asked when a ticket closes."""
    text = t.gettext(N_("{ref} is closed. Were you satisfied with the answer? 1 = not at all, "
                        "5 = very much.")).format(ref=ticket_ref(ticket.id))
    scores = (tuple(global_button(str(n), "tk", "rate", ticket.id, n) for n in range(1, 6)),)
    if send:
        return Send(text, scores)
    assert ticket.citizen_telegram_id is not None
    return Notify(ticket.citizen_telegram_id, text, scores, key=f"ticket:{ticket.id}:survey")


@tickets.action("rate")
async def rate(data: CallbackData, ctx: Ctx) -> Go:
    ticket_id, score = data.int_id(0), data.int_id(1)
    if ctx.citizen is None or ticket_id is None or score is None or not 1 <= score <= 5 \
            or not await ctx.uow.tickets.rate(ticket_id, ctx.citizen.id, score):
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    return Go(show=False, replies=(Edit(ctx._(N_("Thank you for telling us ({score} of 5)."))
                                        .format(score=score)),))


# -- the moderators' side ---------------------------------------------------------------

async def ticket_in_context(ctx: Ctx) -> TicketRecord | None:
    """The ticket a group message is about: its topic, or the message it replies to."""
    event = ctx.event
    if not ctx.in_moderators_chat:
        return None
    if event.chat.thread_id is not None:
        found = await ctx.uow.tickets.by_topic(event.chat.id, event.chat.thread_id)
        if found is not None:
            return found
    if event.reply_to_message_id is not None:
        return await ctx.uow.tickets.by_group_message(event.chat.id, event.reply_to_message_id)
    return None


async def reachable(ctx: Ctx, citizen_id: int | None) -> bool:
    """Whether we may still write to this citizen (they have not withdrawn consent)."""
    return citizen_id is not None and await ctx.uow.citizens.has_consent(
        citizen_id, PRIVACY_PURPOSE)


def moderator_name(ctx: Ctx) -> str:
    user = ctx.event.user
    return user.first_name or (f"@{user.username}" if user.username else str(user.id))


async def answer_citizen(ctx: Ctx, ticket: TicketRecord, text: str | None,
                         media_kind: str | None = None) -> list[Reply]:
    """A moderator's answer: stored, sent to the citizen as from the team."""
    if ticket.status == "closed":
        return [Send(ctx._(N_("{ref} is closed; the answer was not sent.")).format(
            ref=ticket_ref(ticket.id)))]
    if ticket.citizen_telegram_id is None:
        return [Send(ctx._(N_("The citizen of {ref} deleted their data; the answer cannot "
                              "reach them.")).format(ref=ticket_ref(ticket.id)))]
    if not await reachable(ctx, ticket.citizen_id):
        return [Send(ctx._(N_("The citizen of {ref} has withdrawn their consent; we may not "
                              "write to them.")).format(ref=ticket_ref(ticket.id)))]
    if ticket.status == "open":
        await ctx.uow.tickets.claim(ticket.id, ctx.event.user.id, moderator_name(ctx))
    event = ctx.event
    in_group = ctx.in_moderators_chat
    await ctx.uow.tickets.add_message(
        ticket.id, "out", event.user.id, text, ctx.now, media_kind=media_kind,
        group_chat_id=event.chat.id if in_group else None,
        group_message_id=event.message_id if in_group else None)
    t = citizen_t(ctx, ticket)
    buttons = ((global_button("↩️ " + t.gettext(N_("Reply")), "tk", "reply", ticket.id),
                global_button("✅ " + t.gettext(N_("Solved, thanks")), "tk", "solved",
                              ticket.id)),)
    title = "💬 <b>" + t.gettext(N_("Answer from the team")) + f"</b> ({ticket_ref(ticket.id)})"
    to = ticket.citizen_telegram_id
    key = f"ticket:{ticket.id}:out:{event.update_id or event.message_id}"
    replies: list[Reply] = []
    if media_kind and in_group and event.message_id is not None:
        replies.append(Copy(event.chat.id, event.message_id, to, key=key + ":copy"))
        replies.append(Notify(to, title + " ⬆️", buttons, key=key))
    else:
        replies.append(Notify(to, f"{title}\n\n{escape(text)}", buttons, key=key))
    replies.append(Send("✅ " + ctx._(N_("Sent to the citizen ({ref}).")).format(
        ref=ticket_ref(ticket.id))))
    return replies


@roles.staff_command("reply", roles.MODERATOR, N_("Answer a ticket: /reply T-12 text"))
async def reply_command(event: Event, ctx: Ctx) -> Go:
    ref, _, text = event.args.strip().partition(" ")
    ticket_id = parse_ref(ref)
    text = text.strip()
    if ticket_id is None or not text:
        return stay(ctx._(N_("Use it like this: /reply T-12 your answer")))
    if len(text) > TEXT_LIMIT:
        return stay(ctx._(N_("The answer has {length} characters and the limit is {max}. "
                             "Please shorten it.")).format(length=ctx.t.number(len(text)),
                                                          max=ctx.t.number(TEXT_LIMIT)))
    ticket = await ctx.uow.tickets.get(ticket_id)
    if ticket is None:
        return stay(_no_ticket(ctx, ref))
    return Go(show=False, replies=tuple(await answer_citizen(ctx, ticket, text)))


def _no_ticket(ctx: Ctx, ref: str) -> str:
    return ctx._(N_("There is no ticket {ref}.")).format(ref=escape(ref))


async def inbox_page(ctx: Ctx, offset: int) -> tuple[str, Keyboard]:
    size = ctx.settings.inbox_page_size
    found, total = await ctx.uow.tickets.unfinished(offset, size)
    if not found:
        return ctx._(N_("No open tickets. Well done!")), ()
    lines = ["<b>" + ctx.ngettext("{count} open ticket", "{count} open tickets",
                                  total).format(count=ctx.t.number(total)) + "</b>"]
    for ticket in found:
        who = ctx._(N_("taken by {name}")).format(name=escape(ticket.assignee_name or "")) \
            if ticket.status == "assigned" else ctx._(N_("nobody has it yet"))
        lines.append(f"• <b>{ticket_ref(ticket.id)}</b> · "
                     f"{ctx.t.datetime(ticket.created_at, 'short')} · {_who(ticket)} · {who}")
    nav: list[Button] = []
    if offset > 0:
        nav.append(global_button("◀️ " + ctx._(N_("Previous")), "tk", "inbox",
                                 max(offset - size, 0)))
    if offset + size < total:
        nav.append(global_button(ctx._(N_("Next")) + " ▶️", "tk", "inbox", offset + size))
    return "\n".join(lines), ((*nav,),) if nav else ()


@roles.staff_command("inbox", roles.MODERATOR, N_("Open tickets, oldest first"))
async def inbox(event: Event, ctx: Ctx) -> Go:
    text, buttons = await inbox_page(ctx, 0)
    return Go(show=False, replies=(Send(text, buttons),))


@tickets.action("inbox")
async def inbox_more(data: CallbackData, ctx: Ctx) -> Go:
    if not await _is_moderator(ctx):
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    text, buttons = await inbox_page(ctx, data.int_id() or 0)
    return Go(show=False, replies=(Edit(text, buttons),))


@roles.staff_command("ticket", roles.MODERATOR, N_("A ticket's whole thread: /ticket T-12"))
async def show_ticket(event: Event, ctx: Ctx) -> Go:
    ref = event.args.strip()
    ticket_id = parse_ref(ref)
    ticket = await ctx.uow.tickets.get(ticket_id) if ticket_id is not None else None
    if ticket is None:
        if not ref:
            return stay(ctx._(N_("Use it like this: /ticket T-12")))
        return stay(_no_ticket(ctx, ref))
    status = {"open": N_("open"), "assigned": N_("taken by {name}"), "closed": N_("closed")}
    lines = [f"🎫 <b>{ticket_ref(ticket.id)}</b> · {_who(ticket)} · "
             + ctx._(status[ticket.status]).format(name=escape(ticket.assignee_name or ""))]
    if ticket.satisfaction is not None:
        lines.append(ctx._(N_("Satisfaction: {score} of 5")).format(score=ticket.satisfaction))
    for message in await ctx.uow.tickets.thread(ticket.id):
        arrow = "⬅️ " + ctx._(N_("Citizen")) if message.direction == "in" \
            else "➡️ " + ctx._(N_("Team"))
        content = " ".join(x for x in (_media_line(ctx.t, message.media_kind),
                                       escape(message.text)) if x) or "—"
        lines.append(f"\n{arrow} · {ctx.t.datetime(message.created_at, 'short')}\n{content}")
    return Go(show=False, replies=(Send("\n".join(lines)),))


async def _is_moderator(ctx: Ctx) -> bool:
    return roles.includes(await roles.role_of(ctx), roles.MODERATOR)


async def _group_ticket(data: CallbackData, ctx: Ctx) -> TicketRecord:
    ticket = await ctx.uow.tickets.get(data.int_id()) if data.int_id() is not None else None
    if ticket is None:
        raise Gone
    return ticket


async def _refresh_post(ctx: Ctx, ticket: TicketRecord) -> Edit:
    first, media_kind = await _first_message(ctx, ticket)
    t = group_t(ctx)
    return Edit(post_text(t, ticket, first, media_kind), post_buttons(t, ticket))


@tickets.action("take")
async def take(data: CallbackData, ctx: Ctx) -> Go:
    if not await _is_moderator(ctx):
        return Go(answer=ctx._(N_("Only moderators can do this.")), show=False)
    ticket = await _group_ticket(data, ctx)
    if ticket.status == "closed":
        return Go(answer=ctx._(N_("This ticket is closed.")), show=False,
                  replies=(await _refresh_post(ctx, ticket),))
    if ticket.assignee_telegram_id not in (None, ctx.event.user.id):
        return Go(answer=ctx._(N_("{name} has already taken it.")).format(
            name=ticket.assignee_name or ""), show=False)
    taken = await ctx.uow.tickets.claim(ticket.id, ctx.event.user.id, moderator_name(ctx))
    assert taken is not None
    if taken.assignee_telegram_id != ctx.event.user.id:  # someone was faster
        return Go(answer=ctx._(N_("{name} has already taken it.")).format(
            name=taken.assignee_name or ""), show=False,
            replies=(await _refresh_post(ctx, taken),))
    return Go(answer=ctx._(N_("It's yours.")), show=False,
              replies=(await _refresh_post(ctx, taken),))


@tickets.action("close")
async def close(data: CallbackData, ctx: Ctx) -> Go:
    if not await _is_moderator(ctx):
        return Go(answer=ctx._(N_("Only moderators can do this.")), show=False)
    ticket = await _group_ticket(data, ctx)
    if not await ctx.uow.tickets.close(ticket.id, "team", ctx.now):
        return Go(answer=ctx._(N_("This ticket is closed.")), show=False)
    closed = await ctx.uow.tickets.get(ticket.id)
    assert closed is not None
    replies: list[Reply] = [await _refresh_post(ctx, closed)]
    if closed.citizen_telegram_id is not None and await reachable(ctx, closed.citizen_id):
        replies.append(survey(citizen_t(ctx, closed), closed))
    return Go(answer=ctx._(N_("Closed.")), show=False, replies=tuple(replies))


async def on_group_message(ctx: Ctx) -> list[Reply]:
    """Text or media in the group: an answer when it is about a ticket."""
    ticket = await ticket_in_context(ctx)
    if ticket is None or not await _is_moderator(ctx):
        return []  # moderators talking among themselves, or not a moderator
    event = ctx.event
    if event.kind == "media":
        if event.media is None or event.media.kind not in ACCEPTED_MEDIA:
            return [Send(ctx._(N_("Only text, voice notes and photos reach the citizen.")))]
        return await answer_citizen(ctx, ticket, event.text, event.media.kind)
    text = (event.text or "").strip()
    if len(text) > TEXT_LIMIT:
        return [Send(ctx._(N_("The answer has {length} characters and the limit is {max}. "
                              "Please shorten it.")).format(length=ctx.t.number(len(text)),
                                                           max=ctx.t.number(TEXT_LIMIT)))]
    return await answer_citizen(ctx, ticket, text) if text else []


# -- what the outbox tells back -----------------------------------------------------------

@sent_hook("ticket_topic")
async def topic_created(uow: UnitOfWork, arg: str, thread_id: int | None) -> None:
    if not arg.isdigit() or thread_id is None:
        return
    if await uow.tickets.set_topic(int(arg), thread_id):
        await uow.outbox.release(f"ticket:{arg}:", thread_id, datetime.now(UTC))


@sent_hook("ticket_post")
async def posted(uow: UnitOfWork, arg: str, message_id: int | None) -> None:
    if arg.isdigit() and message_id is not None:
        await uow.tickets.set_group_message(int(arg), message_id)


@sent_hook("ticket_msg")
async def relayed(uow: UnitOfWork, arg: str, message_id: int | None) -> None:
    if arg.isdigit() and message_id is not None:
        await uow.tickets.set_relayed(int(arg), message_id)


def buttons_answer(go: Go) -> list[Reply]:
    """A global button's outcome in the group, where no screen is shown."""
    replies: list[Reply] = [Answer(go.answer), *go.replies]
    if go.notice:
        replies.append(Send(go.notice))
    return replies
