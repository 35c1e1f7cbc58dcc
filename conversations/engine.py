"""The engine: one event in, replies out, everything it stored committed first.

For each event: take the conversation's lock (one event at a time per chat
and user, in arrival order), open one unit of work, check the update id (a
redelivery stops there), load the conversation state, run the handler of the
current state, save the state and commit it with the update id. A commit
that finds the update handled meanwhile (another worker) keeps nothing and
the event counts as a redelivery. Only the committed outcome's replies are
returned for sending.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import conversations.flows  # noqa: F401  (importing the flows registers them)
from conversations import commands, log_context, moderators
from conversations.callback import CallbackData, parse
from conversations.flow import Ctx, Flow, Go, Gone, resolve
from conversations.i18n import N_, normalise_language, translator
from conversations.settings import FlowSettings
from conversations.vocabulary import (
    QUEUED,
    Answer,
    Copy,
    Deferred,
    DeleteMessage,
    Edit,
    EditPost,
    Event,
    Leave,
    Media,
    Notify,
    Outcome,
    Queued,
    Reply,
    Send,
    SetCommands,
    Topic,
)
from storage.errors import is_unavailable
from storage.limits import LocalThrottle, Throttle
from storage.locks import LocalLocks, Locks
from storage.outbox import NewNotification
from storage.records import StateRecord
from storage.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

LAST_SEEN_RESOLUTION_S = 600


def utcnow() -> datetime:
    return datetime.now(UTC)


def _duplicate(event: Event) -> Outcome:
    """An update handled already: at the start (a redelivery), or found at the
    commit (another worker committed it meanwhile; nothing of this run was
    stored, and its replies are the other run's to send). A press is
    answered again in case the first answer never left (Telegram refuses a
    second answer, which is harmless)."""
    return Outcome([Answer()] if event.kind == "button" else [], duplicate=True)


def notification(item: Queued, now: datetime) -> NewNotification:
    """A queued reply as an outbox row."""
    if isinstance(item, Copy):
        return NewNotification(chat_id=item.to_chat_id, created_at=now, kind="copy",
                               thread_id=item.thread_id, copy_from_chat_id=item.from_chat_id,
                               copy_message_id=item.message_id, priority=item.priority,
                               dedupe_key=item.key, on_sent=item.on_sent, held=item.held)
    if isinstance(item, Topic):
        return NewNotification(chat_id=item.chat_id, created_at=now, kind="topic",
                               body=item.name, dedupe_key=item.key, on_sent=item.on_sent)
    if isinstance(item, DeleteMessage):
        return NewNotification(chat_id=item.chat_id, created_at=now, kind="delete",
                               target_message_id=item.message_id, dedupe_key=item.key)
    if isinstance(item, EditPost):
        rows = [[[b.label, b.data] for b in row] for row in item.buttons] or None
        return NewNotification(chat_id=item.chat_id, created_at=now, kind="edit",
                               body=item.text, buttons=rows,
                               target_message_id=item.message_id, dedupe_key=item.key)
    if isinstance(item, SetCommands):
        menus = {language: [list(c) for c in commands] for language, commands in item.menus}
        return NewNotification(chat_id=item.chat_id, created_at=now, kind="commands",
                               body=json.dumps(menus, ensure_ascii=False), dedupe_key=item.key)
    buttons = [[[b.label, b.data] for b in row] for row in item.buttons] or None
    return NewNotification(chat_id=item.chat_id, created_at=now, body=item.text,
                           buttons=buttons, thread_id=item.thread_id, priority=item.priority,
                           dedupe_key=item.key, on_sent=item.on_sent,
                           not_before=item.not_before, not_after=item.not_after,
                           held=item.held)


class Unavailable(Exception):
    """Storage or Redis could not be reached: the update must be delivered again."""


@dataclass
class Engine:
    uow: UnitOfWorkFactory
    settings: FlowSettings
    locks: Locks | None = None
    throttle: Throttle | None = None
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        self.locks = self.locks or LocalLocks()
        self.throttle = self.throttle or LocalThrottle(per_minute=0)

    async def handle(self, event: Event) -> Outcome:
        """Handle one event. Raises :class:`Unavailable` when nothing could be stored."""
        try:
            in_group = False
            if not event.is_private:
                if event.kind == "migrated":
                    return await self._migrated(event)
                in_group = await self._is_moderators_chat(event.chat.id)
                if not in_group or event.kind in ("member", "other", "edited"):
                    return await self._outside_private_chat(event, in_group)
            elif event.kind == "member":
                return await self._membership(event)
            assert self.throttle is not None and self.locks is not None
            # The lock comes first: anything awaited before it (a Redis round
            # trip) could let a later event of the same person overtake.
            async with self.locks.hold(f"{event.chat.id}:{event.user.id}"):
                verdict = await self.throttle.check(f"{event.user.id}")
                if not verdict.allowed:
                    return self._slow_down(event, verdict.first_refusal)
                return await self._made(await self._handle_in_transaction(event, in_group))
        except Exception as error:
            if is_unavailable(error):
                raise Unavailable(str(error)) from error
            raise

    async def _made(self, outcome: Outcome) -> Outcome:
        """Deferred replies made now, after the commit, in a worker thread."""
        if not any(isinstance(r, Deferred) for r in outcome.replies):
            return outcome
        replies: list[Reply] = []
        for reply in outcome.replies:
            if not isinstance(reply, Deferred):
                replies.append(reply)
                continue
            try:
                replies.extend(await asyncio.to_thread(reply.make))
            except Exception:
                log.exception("deferred replies failed")
                replies.append(Send(reply.failed))
        outcome.replies = replies
        return outcome

    # -- the transaction --------------------------------------------------

    async def _handle_in_transaction(self, event: Event, in_group: bool = False) -> Outcome:
        now = self.clock()
        async with self.uow() as uow:
            start = await uow.start_event(event.update_id, now, event.user.id, event.chat.id)
            if not start.fresh:
                return _duplicate(event)
            citizen, state = start.citizen, start.state
            log_context.add(flow=state.flow, state=state.state)
            before = (state.flow, state.state, state.step, repr(state.data))
            ctx = Ctx(uow=uow, t=translator(self._language(event, citizen, state),
                                              self.settings.timezone),
                      now=now, event=event, state=state, citizen=citizen,
                      settings=self.settings, next_step=state.step + 1,
                      in_moderators_chat=in_group)
            try:
                replies = await (moderators.route(event, ctx) if in_group
                                 else self._route(event, ctx))
            except Exception as error:
                if is_unavailable(error):
                    raise
                return await self._failed(event, ctx, error)
            queued = [r for r in replies if isinstance(r, QUEUED)]
            replies = [r for r in replies if not isinstance(r, QUEUED)]
            for item in queued:
                await uow.outbox.enqueue(notification(item, now))
            if in_group:
                # The group is a workplace, not a journey: no conversation state.
                if not await uow.commit():
                    return _duplicate(event)
                return Outcome(replies, queued=len(queued))
            if ctx.forgotten:
                if not await uow.commit():
                    return _duplicate(event)
                await self._forget(event)
                return Outcome(replies, queued=len(queued))
            if ctx.stamped:
                state.step = ctx.next_step
            if citizen is not None and (
                    citizen.username != event.user.username or citizen.blocked_bot
                    or (now - citizen.last_seen).total_seconds() > LAST_SEEN_RESOLUTION_S):
                await uow.citizens.seen(citizen, event.user.username, now)
            if state.is_new or before != (state.flow, state.state, state.step,
                                          repr(state.data)):
                await uow.conversations.save(state, now)
            if not await uow.commit():
                return _duplicate(event)
        return Outcome(replies, queued=len(queued))

    async def _failed(self, event: Event, ctx: Ctx, error: Exception) -> Outcome:
        """A bug in a handler: nothing half-done is kept, the person is told so."""
        log.exception("handler failed", extra={
            "update_id": event.update_id, "flow": ctx.state.flow, "state": ctx.state.state,
            "error": type(error).__name__})
        await ctx.uow.rollback()
        async with self.uow() as uow:
            if event.update_id is not None:
                await uow.updates.mark_seen(event.update_id, ctx.now)
            await uow.commit()
        try:
            await self._alert_admins(event, ctx, error)
        except Exception as alert_error:  # the person's answer matters more than the alert
            log.warning("could not queue the error alert: %s", type(alert_error).__name__)
        text = ctx._(N_("Sorry, something went wrong on our side. What you had saved is "
                        "safe; please try again in a moment."))
        replies: list[Reply] = [Send(text)]
        if event.kind == "button":
            replies.insert(0, Answer())
        return Outcome(replies, failed=True)

    async def _alert_admins(self, event: Event, ctx: Ctx, error: Exception) -> None:
        """Tell the moderators' group (where the admins are) that a handler
        failed: at most one alert per ERROR_ALERT_MINUTES, whichever worker
        sees the error (the outbox's dedupe key is per time slot)."""
        chat = self.settings.moderators_chat_id
        if chat is None:
            return
        minutes = self.settings.error_alert_minutes
        slot = int(ctx.now.timestamp() // (minutes * 60))
        t = translator(self.settings.default_language, self.settings.timezone)
        text = "⚠️ " + t.gettext(N_(
            "<b>Something went wrong in the bot</b>: {error} in {where}. The person was "
            "asked to try again; nothing half-done was kept. The details are in the logs "
            "(update {update})."
        )).format(error=html.escape(type(error).__name__),
                  where=html.escape(f"{ctx.state.flow}.{ctx.state.state}"),
                  update=event.update_id if event.update_id is not None else "-")
        text += "\n" + t.ngettext(
            "Further errors in the next {count} minute are only logged.",
            "Further errors in the next {count} minutes are only logged.",
            minutes).format(count=minutes)
        async with self.uow() as uow:
            group = await uow.chats.current_id(chat)
            await uow.outbox.enqueue(notification(
                Notify(group, text, key=f"error-alert:{slot}"), ctx.now))
            await uow.commit()

    # -- routing ------------------------------------------------------------

    async def _route(self, event: Event, ctx: Ctx) -> list[Reply]:
        # Without consent only the onboarding runs; nothing else may store data.
        welcome_first = not ctx.consented and Flow.registry[ctx.state.flow].needs_consent
        if welcome_first:
            ctx.state.flow, ctx.state.state = "start", "welcome"
        try:
            if event.kind == "button":
                return await self._on_button(event, ctx)
            if event.kind == "command":
                return await self.apply(await commands.run(event, ctx), ctx, edit=False)
            if event.kind == "edited":
                return [Send(ctx._(N_("I don't take changes to messages already sent. If you "
                                      "want to change something, please send it again.")))]
            if welcome_first:
                return await self.apply(Go("start.welcome"), ctx, edit=False)
            _, current = resolve(f"{ctx.state.flow}.{ctx.state.state}", ctx.state.flow)
            if event.kind == "text":
                go = await current.on_text(event.text or "", ctx)
            else:
                go = await current.on_media(event.media or Media("other"), ctx)
            return await self.apply(go, ctx, edit=False)
        except Gone:
            return await self.apply(
                Go("menu.idle", notice=ctx._(N_("Sorry, that is no longer available."))),
                ctx, edit=False, button=event.kind == "button")

    async def _on_button(self, event: Event, ctx: Ctx) -> list[Reply]:
        data = parse(event.data)
        flow = Flow.registry.get(data.flow) if data else None
        if data is None or flow is None:
            return await self._expired(ctx)
        if data.step is None:
            action = flow.actions.get(data.action)
            if action is None:
                return await self._expired(ctx)
            return await self.apply(await action(data, ctx), ctx, edit=False, button=True)
        state = ctx.state
        if data.flow != state.flow or data.step != state.step:
            return await self._expired(ctx)
        _, current = resolve(f"{state.flow}.{state.state}", state.flow)
        go = await self._step_action(current, data, ctx)
        return await self.apply(go, ctx, edit=True, button=True)

    async def _step_action(self, current, data: CallbackData, ctx: Ctx) -> Go:  # type: ignore[no-untyped-def]
        if data.action == "cancel":
            return commands.cancelled(ctx)
        if data.action == "back":
            target = await current.back_to(ctx)
            return Go(target) if target else Go()
        go = await current.on_button(data, ctx)
        if go is None:
            return Go(answer=ctx._(N_("This button has expired.")))
        return go

    async def _expired(self, ctx: Ctx) -> list[Reply]:
        return await self.apply(Go(answer=ctx._(N_("This button has expired."))),
                                ctx, edit=False, button=True)

    async def apply(self, go: Go, ctx: Ctx, *, edit: bool, button: bool = False) -> list[Reply]:
        """Move the conversation as ``go`` says and render what the person sees."""
        state = ctx.state
        if go.target:
            flow, target = resolve(go.target, state.flow)
            if flow.name != state.flow:
                kept = {"lang": state.data["lang"]} if "lang" in state.data else {}
                state.data = {**kept, **go.carry}
            elif go.carry:
                state.data.update(go.carry)
            state.flow, state.state = flow.name, target.name
        replies: list[Reply] = []
        if button:
            replies.append(Answer(go.answer))
        replies.extend(go.replies)
        if go.show:
            flow, current = resolve(f"{state.flow}.{state.state}", state.flow)
            ctx.flow = flow.name
            screen = await current.show(ctx)
            text = f"{go.notice}\n\n{screen.text}" if go.notice else screen.text
            replies.append(Edit(text, screen.buttons) if edit else Send(text, screen.buttons))
        elif go.notice:
            replies.append(Send(go.notice))
        return replies

    # -- outside the conversation ----------------------------------------

    def _language(self, event: Event, citizen, state: StateRecord) -> str:  # type: ignore[no-untyped-def]
        if citizen is not None and citizen.consented:
            return citizen.language
        return state.data.get("lang") or normalise_language(
            event.user.language, self.settings.default_language)

    def _slow_down(self, event: Event, first_refusal: bool) -> Outcome:
        t = translator(normalise_language(event.user.language, self.settings.default_language),
                       self.settings.timezone)
        text = t.gettext(N_("You are sending messages very fast. Please wait a minute and "
                            "try again; I haven't taken the last ones."))
        if event.kind == "button":
            return Outcome([Answer(text, alert=first_refusal)])
        return Outcome([Send(text)] if first_refusal else [])

    async def _is_moderators_chat(self, chat_id: int) -> bool:
        """The configured group, or the supergroup it became (recorded migration)."""
        configured = self.settings.moderators_chat_id
        if configured is None or chat_id == configured:
            return configured is not None
        async with self.uow() as uow:
            return await uow.chats.current_id(configured) == chat_id

    async def _migrated(self, event: Event) -> Outcome:
        """A group became a supergroup: if it is the moderators' group, follow it."""
        old = event.migrate_from_chat_id or event.chat.id
        new = event.migrate_to_chat_id or event.chat.id
        if old == new or not await self._is_moderators_chat(old):
            return Outcome()
        async with self.uow() as uow:
            await uow.chats.migrated(old, new, self.clock())
            await uow.commit()
        log.info("the moderators' group became a supergroup", extra={"chat_id": new})
        return Outcome()

    async def _outside_private_chat(self, event: Event, in_group: bool = False) -> Outcome:
        """Only private chats and the moderators' group; elsewhere say one line and leave."""
        button = [Answer()] if event.kind == "button" else []
        if in_group:
            return Outcome(button)
        if event.kind == "member" and event.member_status in ("left", "kicked"):
            return Outcome()
        t = translator(normalise_language(event.user.language, self.settings.default_language),
                       self.settings.timezone)
        line = t.gettext(N_("I only talk in private chats. Write to me directly to take part. "
                            "Goodbye!"))
        replies: list[Reply] = [*button]
        if event.chat.type != "channel":
            replies.append(Send(line))
        replies.append(Leave())
        return Outcome(replies)

    async def _forget(self, event: Event) -> None:
        """After an erasure: the short-lived keys about them go too."""
        assert self.throttle is not None
        await self.throttle.forget(f"{event.user.id}")

    async def _membership(self, event: Event) -> Outcome:
        """A citizen blocked or unblocked the bot (my_chat_member in their chat)."""
        blocked = event.member_status == "kicked"
        async with self.uow() as uow:
            await uow.citizens.set_blocked(event.user.id, blocked, self.clock())
            await uow.commit()
        return Outcome()
