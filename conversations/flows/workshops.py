"""Workshops: find one, sign up (or wait for a seat), get the calendar and the QR.

```mermaid
stateDiagram-v2
    [*] --> list: Workshops (upcoming, of open labs)
    [*] --> mine: /myworkshops or My workshops
    list --> detail: a workshop
    detail --> consent: Sign up / Join the waiting list (first time)
    detail --> question: (consent given before) the workshop's questions
    detail --> done: (no questions) signed up
    consent --> question: I agree
    question --> question: next question (choice, short text or Skip)
    question --> done: last answer: signed up or waitlisted (.ics and QR)
    mine --> registration: one of mine
    registration --> registration: Calendar and QR again
    registration --> give_up: Cancel my seat / Leave the waiting list
    give_up --> mine: Yes (the seat goes to the next person waiting)
    [*] --> feedback_comment: a score from the feedback question
```

Buttons in notifications (offers, reminders, feedback) are global: they work
from any message and recheck the registration on every press.
"""

from __future__ import annotations

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Gone, Screen, State, stay
from conversations.flows.menu import journey
from conversations.i18n import N_, pick
from conversations.text import escape, shorten
from conversations.vocabulary import Document, Edit, Media, Photo, Reply
from conversations.workshop_files import checkin_link, ics, ics_name, qr_png
from conversations.workshop_notices import (
    describe,
    key,
    offer_seats,
    offers_over,
    reminders,
    title,
    when,
)
from storage.workshops import QuestionRecord, RegistrationRecord, WorkshopRecord

PURPOSE = "workshops"
CONSENT_VERSION = "1"
# The soonest ones: a Telegram message holds 4,096 characters.
SHOWN = 10

workshops = Flow("ws", entry="list")


@journey("ws", N_("🗓 Workshops"))
async def start(ctx: Ctx) -> Go:
    if not await ctx.uow.workshops.upcoming(ctx.now):
        return stay(ctx._(N_("There are no workshops coming up right now. Please look again "
                             "in a few days.")))
    return Go("ws.list")


async def my_workshops_command(ctx: Ctx) -> Go:
    """/myworkshops"""
    return Go("ws.mine") if ctx.consented else stay()


async def upcoming_workshop(ctx: Ctx, workshop_id: int | None = None) -> WorkshopRecord:
    """The chosen workshop, still upcoming and open for sign-ups (rechecked each step)."""
    wanted = workshop_id if workshop_id is not None else ctx.data.get("workshop_id")
    for workshop in await ctx.uow.workshops.upcoming(ctx.now):
        if workshop.id == wanted:
            return workshop
    raise Gone


def _name(workshop: WorkshopRecord, ctx: Ctx) -> str:
    return title(workshop, ctx.t, ctx.settings.default_language)


def _describe(workshop: WorkshopRecord, ctx: Ctx, **options: bool) -> str:
    return describe(workshop, ctx.t, ctx.settings.default_language, **options)


def status_line(registration: RegistrationRecord, position: int | None, ctx: Ctx) -> str:
    if registration.status == "confirmed":
        return "✅ " + ctx._(N_("You are signed up."))
    if registration.status == "attended":
        return "✅ " + ctx._(N_("You came to this workshop. Thank you!"))
    if registration.status == "offered":
        return "🎉 " + ctx._(N_("A seat is being kept for you: answer the offer we sent you."))
    if registration.status == "waitlisted" and position is not None:
        return "⏳ " + ctx._(N_("You are number {position} on the waiting list.")).format(
            position=ctx.t.number(position))
    return ""


def files(workshop: WorkshopRecord, registration: RegistrationRecord, ctx: Ctx
          ) -> tuple[Reply, ...]:
    """The calendar file and the check-in QR code of a confirmed seat."""
    calendar = ics(workshop, ctx.language, uid=f"{key(registration, 'ics')}@participa",
                   now=ctx.now, default_language=ctx.settings.default_language)
    qr = qr_png(checkin_link(ctx.settings.bot_username, registration.checkin_token))
    return (
        Document(ics_name(workshop), calendar,
                 caption=ctx._(N_("📅 Add the workshop to your calendar."))),
        Photo(qr, caption=ctx._(N_("🎟 Your check-in code for {workshop}: show it at the "
                                   "door.")).format(workshop=_name(workshop, ctx))),
    )


@workshops.state("list")
class Upcoming(State):
    help = N_("These are the workshops coming up. Tap one to see it and sign up.")

    async def show(self, ctx: Ctx) -> Screen:
        found = (await ctx.uow.workshops.upcoming(ctx.now))[:SHOWN]
        if not found:
            raise Gone
        parts = ["<b>" + ctx._(N_("Workshops coming up")) + "</b>"]
        parts += [_describe(w, ctx) for w in found]
        # The date too: two sessions of the same workshop read alike.
        rows = [(ctx.button(shorten(pick(w.title, ctx.language, ctx.settings.default_language),
                                    40) + " · " + ctx.t.date(w.starts_at, "short"),
                            "open", w.id),) for w in found]
        rows.append((ctx.button("📋 " + ctx._(N_("My workshops")), "mine"),))
        rows.append(ctx.back_cancel())
        return Screen("\n\n".join(parts), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "open":
            await upcoming_workshop(ctx, data.int_id())
            return Go("detail", carry={"workshop_id": data.int_id()})
        if data.action == "mine":
            return Go("mine")
        return None


@workshops.state("detail")
class Detail(State):
    help = N_("Tap “Sign up” to take a seat, or “Join the waiting list” when it is full.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await upcoming_workshop(ctx)
        assert ctx.citizen is not None
        mine = await ctx.uow.workshops.registration_of(workshop.id, ctx.citizen.id)
        text = _describe(workshop, ctx, with_description=True)
        rows = []
        if mine is not None and mine.status != "cancelled":
            text += "\n\n" + status_line(mine, await ctx.uow.workshops.position(mine), ctx)
            if may_claim(mine, workshop, ctx):
                rows.append((ctx.button("✅ " + ctx._(N_("Take the seat")), "claim"),))
            rows.append((ctx.button("📋 " + ctx._(N_("My workshops")), "mine"),))
        elif workshop.seats_left > 0:
            rows.append((ctx.button("✍️ " + ctx._(N_("Sign up")), "signup"),))
        else:
            rows.append((ctx.button("⏳ " + ctx._(N_("Join the waiting list")), "signup"),))
        rows.append(ctx.back_cancel())
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "list"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "mine":
            return Go("mine")
        if data.action == "claim":
            workshop = await upcoming_workshop(ctx)
            assert ctx.citizen is not None
            mine = await ctx.uow.workshops.registration_of(workshop.id, ctx.citizen.id)
            if mine is None:
                raise Gone
            return await claim(mine, workshop, ctx)
        if data.action != "signup":
            return None
        await upcoming_workshop(ctx)
        return await begin_sign_up(ctx)


async def begin_sign_up(ctx: Ctx) -> Go:
    """The sign-up of the workshop in ``ctx.data``: the consent the first time,
    then its questions, then the seat (or the waiting list)."""
    assert ctx.citizen is not None
    ctx.data.update(answers={}, question=0)
    if not await ctx.uow.citizens.has_consent(ctx.citizen.id, PURPOSE):
        return Go("consent")
    return await next_question(ctx)


async def sign_up_from_invitation(ctx: Ctx, workshop_id: int | None) -> Go:
    """A "Sign me up" button under a broadcast: from any message, that
    workshop's sign-up step (rechecked: still upcoming, else Gone). Someone
    already signed up or waiting sees where they stand instead."""
    workshop = await upcoming_workshop(ctx, workshop_id)
    assert ctx.citizen is not None
    # The conversation moves to this workshop's detail, then on from there.
    kept = {"lang": ctx.state.data["lang"]} if "lang" in ctx.state.data else {}
    ctx.state.flow, ctx.state.state = workshops.name, "detail"
    ctx.state.data = {**kept, "workshop_id": workshop.id}
    ctx.flow = workshops.name
    mine = await ctx.uow.workshops.registration_of(workshop.id, ctx.citizen.id)
    if mine is not None and mine.status != "cancelled":
        return Go("detail")
    return await begin_sign_up(ctx)


@workshops.state("consent")
class Consent(State):
    help = N_("Read what we keep to sign you up. Tap “I agree” to go on, or “Cancel”.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await upcoming_workshop(ctx)
        text = "\n\n".join([
            "🔒 <b>" + ctx._(N_("Workshop registration")) + "</b>",
            ctx._(N_("<b>What we keep:</b> that you signed up for {workshop}, your answers to "
                     "its questions, whether you came, and your score and comment if you give "
                     "them.")).format(workshop=_name(workshop, ctx)),
            ctx._(N_("<b>Why:</b> to keep your seat, to send you reminders, to offer you a "
                     "seat that frees up, and so that the staff can check you in at the "
                     "door.")),
            ctx._(N_("<b>Sensitive answers</b> (health or accessibility needs) are kept "
                     "apart, seen only by the organising staff, and deleted after the "
                     "workshop.")),
            ctx._(N_("You can cancel your seat at any time in “My workshops”, and delete "
                     "everything with /deleteme.")),
        ])
        return Screen(text, ((ctx.button("✅ " + ctx._(N_("I agree")), "agree"),
                              ctx.button("✖️ " + ctx._(N_("Cancel")), "cancel")),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "detail"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "agree":
            return None
        await upcoming_workshop(ctx)
        assert ctx.citizen is not None
        await ctx.uow.citizens.give_consent(ctx.citizen.id, PURPOSE, CONSENT_VERSION, ctx.now)
        return await next_question(ctx)

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return stay(ctx._(N_("Please tap “I agree” to sign up, or “Cancel”.")))


async def _questions(ctx: Ctx) -> list[QuestionRecord]:
    return await ctx.uow.workshops.questions(int(ctx.data["workshop_id"]))


async def next_question(ctx: Ctx) -> Go:
    """The next unanswered question, or the sign-up itself after the last one."""
    if int(ctx.data.get("question", 0)) < len(await _questions(ctx)):
        return Go("question")
    return await submit(ctx)


@workshops.state("question")
class Question(State):
    help = N_("Answer the question with the buttons or a short message, or tap “Skip”.")

    async def _current(self, ctx: Ctx) -> QuestionRecord:
        questions = await _questions(ctx)
        index = int(ctx.data.get("question", 0))
        if index >= len(questions):
            raise Gone
        return questions[index]

    async def show(self, ctx: Ctx) -> Screen:
        await upcoming_workshop(ctx)
        question = await self._current(ctx)
        total = len(await _questions(ctx))
        text = ctx._(N_("Question {number} of {total}")).format(
            number=ctx.t.number(question.position), total=ctx.t.number(total)) + "\n\n<b>" + \
            escape(pick(question.prompt, ctx.language, ctx.settings.default_language)) + "</b>"
        if question.sensitive:
            text += "\n\n🔒 " + ctx._(N_("This answer is kept apart and deleted after the "
                                        "workshop."))
        rows: list[tuple] = []
        if question.kind == "choice":
            rows += [(ctx.button(shorten(pick(option, ctx.language,
                                      ctx.settings.default_language), 60), "opt", n),)
                     for n, option in enumerate(question.options)]
        else:
            text += "\n\n" + ctx._(N_("Write your answer in a message (up to {max} "
                                      "characters).")).format(
                max=ctx.t.number(ctx.settings.workshop_answer_max_chars))
        rows.append((ctx.button(ctx._(N_("Skip")) + " ➡️", "skip"),))
        rows.append(ctx.back_cancel())
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        index = int(ctx.data.get("question", 0))
        if index == 0:
            return "detail"
        ctx.data["question"] = index - 1
        return "question"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        question = await self._current(ctx)
        if data.action == "skip":
            return await self._answered(question, None, ctx)
        if data.action == "opt" and question.kind == "choice":
            index = data.int_id()
            if index is None or index >= len(question.options):
                return None
            # Stored in the default language: staff read one list.
            option = question.options[index]
            return await self._answered(question, pick(option, ctx.settings.default_language),
                                        ctx)
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        question = await self._current(ctx)
        if question.kind == "choice":
            return stay(ctx._(N_("Please choose one of the options with the buttons, or tap "
                                 "“Skip”.")))
        text = text.strip()
        limit = ctx.settings.workshop_answer_max_chars
        if not text:
            return stay(ctx._(N_("The message is empty. Please write your answer or tap "
                                 "“Skip”.")))
        if len(text) > limit:
            return stay(ctx._(N_("Your answer has {length} characters and the limit is {max}. "
                                 "Please shorten it and send it again.")).format(
                length=ctx.t.number(len(text)), max=ctx.t.number(limit)))
        return await self._answered(question, text, ctx)

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        return stay(ctx._(N_("I can only take a written answer here. Please write it, or tap "
                             "“Skip”.")))

    async def _answered(self, question: QuestionRecord, answer: str | None, ctx: Ctx) -> Go:
        answers = dict(ctx.data.get("answers") or {})
        if answer is None:
            answers.pop(str(question.id), None)
        else:
            answers[str(question.id)] = answer
        ctx.data.update(answers=answers, question=int(ctx.data.get("question", 0)) + 1)
        return await next_question(ctx)


async def submit(ctx: Ctx) -> Go:
    """Sign up: a seat if one is free (the database decides), else the waiting list."""
    workshop = await upcoming_workshop(ctx)
    assert ctx.citizen is not None
    given = ctx.data.get("answers") or {}
    answers = [(q, given[str(q.id)]) for q in await _questions(ctx) if str(q.id) in given]
    result = await ctx.uow.workshops.sign_up(
        workshop.id, ctx.citizen.id, ctx.now, answers=answers,
        newcomers_take_free_seats=offers_over(workshop, ctx.now, ctx.settings))
    if result.outcome == "closed":
        raise Gone
    registration = result.registration
    assert registration is not None
    ctx.data.update(outcome=result.outcome, registration_id=registration.id,
                    position=result.position)
    ctx.data.pop("answers", None)
    replies = seat_confirmed(workshop, registration, ctx) \
        if result.outcome == "confirmed" else ()
    return Go("done", replies=replies)


@workshops.state("done")
class Done(State):
    help = N_("You can see your workshops in “My workshops”.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await ctx.uow.workshops.get(int(ctx.data.get("workshop_id", -1)))
        if workshop is None:
            raise Gone
        outcome = ctx.data.get("outcome")
        if outcome == "confirmed":
            text = youre_in(workshop, ctx) + "\n\n" + ctx._(N_(
                "Above you have the calendar file and your check-in code. We will remind you "
                "before it starts."))
        elif outcome == "waitlisted":
            text = "⏳ " + ctx._(N_("The workshop is full. You are number {position} on the "
                                   "waiting list. If a seat frees up, I will offer it to you "
                                   "here.")).format(
                position=ctx.t.number(int(ctx.data.get("position") or 1)))
        else:
            text = "ℹ️ " + ctx._(N_("You had already signed up for this workshop, so nothing "
                                   "has changed."))
        return Screen(text, ((ctx.button("📋 " + ctx._(N_("My workshops")), "mine"),
                              ctx.button(ctx._(N_("Main menu")), "menu")),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "mine":
            return Go("mine")
        if data.action == "menu":
            return Go("menu.idle")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("menu.idle")


@workshops.state("mine")
class Mine(State):
    help = N_("These are the workshops you signed up for or are waiting for. Tap one to see "
              "it, get the calendar and the QR code again, or cancel your seat.")

    async def show(self, ctx: Ctx) -> Screen:
        assert ctx.citizen is not None
        found = await ctx.uow.workshops.mine(ctx.citizen.id, ctx.now)
        if not found:
            return Screen(ctx._(N_("You have not signed up for any upcoming workshop.")),
                          ((ctx.button(ctx._(N_("See the workshops")), "list"),
                            ctx.button(ctx._(N_("Main menu")), "menu")),))
        parts = ["<b>" + ctx._(N_("My workshops")) + "</b>"]
        rows = []
        for registration, workshop in found:
            parts.append(_describe(workshop, ctx, with_seats=False) + "\n" + status_line(
                registration, await ctx.uow.workshops.position(registration), ctx))
            rows.append((ctx.button(shorten(pick(workshop.title, ctx.language,
                                         ctx.settings.default_language), 60), "one",
                                    registration.id),))
        rows.append((ctx.button(ctx._(N_("Main menu")), "menu"),))
        return Screen("\n\n".join(parts), tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "one":
            await my_registration(ctx, data.int_id())
            return Go("registration", carry={"registration_id": data.int_id()})
        if data.action == "list":
            return await start(ctx)
        if data.action == "menu":
            return Go("menu.idle")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("menu.idle")


async def my_registration(ctx: Ctx, registration_id: int | None = None
                          ) -> tuple[RegistrationRecord, WorkshopRecord]:
    """One of this citizen's active registrations, for a workshop not over."""
    wanted = registration_id if registration_id is not None \
        else ctx.data.get("registration_id")
    assert ctx.citizen is not None
    for registration, workshop in await ctx.uow.workshops.mine(ctx.citizen.id, ctx.now):
        if registration.id == wanted:
            return registration, workshop
    raise Gone


@workshops.state("registration")
class MyRegistration(State):
    help = N_("Get the calendar file and the QR code again, or cancel your seat.")

    async def show(self, ctx: Ctx) -> Screen:
        registration, workshop = await my_registration(ctx)
        text = _describe(workshop, ctx, with_seats=False, with_description=True) + "\n\n" + \
            status_line(registration, await ctx.uow.workshops.position(registration), ctx)
        rows = []
        if registration.status == "confirmed":
            rows.append((ctx.button("📅 " + ctx._(N_("Calendar and QR code again")),
                                    "files"),))
        if registration.status == "offered" or may_claim(registration, workshop, ctx):
            rows.append((ctx.button("✅ " + ctx._(N_("Take the seat")), "take"),))
        if registration.status in ("confirmed", "offered"):
            rows.append((ctx.button("🙁 " + ctx._(N_("Cancel my seat")), "give_up"),))
        elif registration.status == "waitlisted":
            rows.append((ctx.button(ctx._(N_("Leave the waiting list")), "give_up"),))
        rows.append((ctx.button("⬅️ " + ctx._(N_("Back")), "back"),))
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "mine"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        registration, workshop = await my_registration(ctx)
        if data.action == "files" and registration.status == "confirmed":
            return Go(replies=files(workshop, registration, ctx),
                      answer=ctx._(N_("Sent again.")))
        if data.action == "give_up" and registration.status != "attended":
            return Go("give_up")
        if data.action == "take":
            return await claim(registration, workshop, ctx)
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("mine")


@workshops.state("give_up")
class GiveUp(State):
    help = N_("Tap “Yes, cancel it” to give up your place, or “No, keep it”.")

    async def show(self, ctx: Ctx) -> Screen:
        registration, workshop = await my_registration(ctx)
        question = ctx._(N_("Do you want to leave the waiting list of {workshop}?")) \
            if registration.status == "waitlisted" else \
            ctx._(N_("Do you want to cancel your seat at {workshop}? It will go to the next "
                     "person waiting."))
        return Screen(question.format(workshop=_name(workshop, ctx)), (
            (ctx.button(ctx._(N_("Yes, cancel it")), "yes"),
             ctx.button(ctx._(N_("No, keep it")), "no")),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "registration"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "no":
            return Go("registration")
        if data.action != "yes":
            return None
        registration, workshop = await my_registration(ctx)
        notices = await give_up(registration, workshop, ctx)
        return Go("mine", replies=notices, notice=ctx._(N_("Done: your place is cancelled. "
                                                            "Thank you for letting us know.")))


def may_claim(registration: RegistrationRecord, workshop: WorkshopRecord, ctx: Ctx) -> bool:
    """Close to the start no offers are made: someone waiting may take a free seat."""
    return registration.status == "waitlisted" and workshop.seats_left > 0 \
        and offers_over(workshop, ctx.now, ctx.settings)


def seat_confirmed(workshop: WorkshopRecord, registration: RegistrationRecord, ctx: Ctx
                   ) -> tuple[Reply, ...]:
    """What a new seat brings: the calendar file, the QR code, the reminders."""
    assert ctx.citizen is not None
    return (*files(workshop, registration, ctx),
            *reminders(workshop, registration, ctx.citizen.telegram_id, ctx.language, ctx.now,
                       ctx.settings))


def youre_in(workshop: WorkshopRecord, ctx: Ctx) -> str:
    return "🎉 " + ctx._(N_("You're in! We have kept a seat for you at {workshop}, "
                           "{when}.")).format(workshop=_name(workshop, ctx),
                                              when=when(workshop, ctx.t))


async def claim(registration: RegistrationRecord, workshop: WorkshopRecord, ctx: Ctx) -> Go:
    """Take the seat offered, or a free one when offers are over."""
    if registration.status == "offered":
        taken = await ctx.uow.workshops.accept_offer(registration.id, ctx.now)
    elif may_claim(registration, workshop, ctx):
        taken = await ctx.uow.workshops.claim_free_seat(registration.id, workshop.id, ctx.now)
    else:
        taken = False
    if not taken and registration.status == "offered":
        return Go(notice=ctx._(N_("Sorry, this offer is no longer valid: the time to answer "
                                  "is over.")))
    if not taken:
        return Go(notice=ctx._(N_("Sorry, someone else has just taken that seat. You are "
                                  "still on the waiting list.")))
    return Go("registration", carry={"registration_id": registration.id},
              replies=seat_confirmed(workshop, registration, ctx),
              notice=youre_in(workshop, ctx), answer=ctx._(N_("Seat taken.")))


async def give_up(registration: RegistrationRecord, workshop: WorkshopRecord, ctx: Ctx
                  ) -> tuple[Reply, ...]:
    """Cancel a place: queued reminders go, a freed seat is offered to the next one."""
    had = await ctx.uow.workshops.cancel(registration.id, ctx.now)
    if had is None:
        raise Gone
    await ctx.uow.workshops.cancel_messages(registration.id)
    if had == "confirmed":
        return tuple(await offer_seats(ctx.uow.workshops, workshop.id, ctx.now, ctx.settings))
    return ()


async def withdraw_consent(ctx: Ctx) -> tuple[Reply, ...]:
    """The "workshop registration" consent withdrawn: every place given up (seats
    go to the people waiting); attendance already recorded stays."""
    assert ctx.citizen is not None
    offers: list[Reply] = []
    for registration, workshop in await ctx.uow.workshops.mine(ctx.citizen.id, ctx.now):
        if registration.status != "attended":
            offers += await give_up(registration, workshop, ctx)
    return tuple(offers)


# -- buttons in notifications (global: rechecked on every press) ---------------


async def _own(data: CallbackData, ctx: Ctx) -> tuple[RegistrationRecord, WorkshopRecord]:
    registration = await ctx.uow.workshops.registration(data.int_id() or -1)
    if registration is None or ctx.citizen is None or \
            registration.citizen_id != ctx.citizen.id:
        raise Gone
    workshop = await ctx.uow.workshops.get(registration.workshop_id)
    if workshop is None:
        raise Gone
    return registration, workshop


def _expired(ctx: Ctx) -> Go:
    return Go(show=False, answer=ctx._(N_("This button has expired.")))


@workshops.action("take")
async def take_seat(data: CallbackData, ctx: Ctx) -> Go:
    registration, workshop = await _own(data, ctx)
    if workshop.status != "scheduled" or not await ctx.uow.workshops.accept_offer(
            registration.id, ctx.now):
        return Go(show=False, replies=(Edit(ctx._(N_("Sorry, this offer is no longer valid: "
                                                    "the time to answer is over."))),))
    return Go(show=False, answer=ctx._(N_("Seat taken.")),
              replies=(Edit(youre_in(workshop, ctx)), *seat_confirmed(workshop, registration,
                                                                       ctx)))


@workshops.action("decline")
async def decline_seat(data: CallbackData, ctx: Ctx) -> Go:
    registration, workshop = await _own(data, ctx)
    if registration.status != "offered":
        return _expired(ctx)
    offers = await give_up(registration, workshop, ctx)
    return Go(show=False, replies=(Edit(ctx._(N_("Understood: the seat goes to the next "
                                                 "person. Thank you for answering."))),
                                   *offers))


@workshops.action("coming")
async def coming(data: CallbackData, ctx: Ctx) -> Go:
    registration, workshop = await _own(data, ctx)
    if workshop.starts_at <= ctx.now or not await ctx.uow.workshops.confirm_coming(
            registration.id, ctx.now):
        return _expired(ctx)
    return Go(show=False, answer=ctx._(N_("Thank you! See you there.")))


@workshops.action("notcoming")
async def not_coming(data: CallbackData, ctx: Ctx) -> Go:
    registration, workshop = await _own(data, ctx)
    if workshop.starts_at <= ctx.now or registration.status != "confirmed":
        return _expired(ctx)
    offers = await give_up(registration, workshop, ctx)
    return Go(show=False, replies=(Edit(ctx._(N_("Thank you for letting us know. Your seat "
                                                 "is cancelled and goes to someone on the "
                                                 "waiting list."))), *offers))


@workshops.action("fb")
async def feedback_score(data: CallbackData, ctx: Ctx) -> Go:
    registration, _ = await _own(data, ctx)
    score = data.int_id(1)
    if score is None or not 1 <= score <= 5 or not await ctx.uow.workshops.give_feedback(
            registration.id, score):
        return _expired(ctx)
    return Go("ws.feedback_comment", carry={"registration_id": registration.id},
              answer=ctx._(N_("Thank you!")))


@workshops.state("feedback_comment")
class FeedbackComment(State):
    help = N_("Write what you would tell the organisers in a message, or tap “Skip”.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Thank you for your score! Would you like to tell us anything "
                               "else about the workshop? Write it in a message (up to {max} "
                               "characters), or tap “Skip”.")).format(
            max=ctx.t.number(ctx.settings.comment_max_chars)),
            ((ctx.button(ctx._(N_("Skip")) + " ➡️", "skip"),),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "skip":
            return Go("menu.idle", notice=ctx._(N_("Thank you for your feedback!")))
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        limit = ctx.settings.comment_max_chars
        if not text:
            return stay(ctx._(N_("The message is empty. Please write your comment or tap "
                                 "“Skip”.")))
        if len(text) > limit:
            return stay(ctx._(N_("Your message has {length} characters and the limit is {max}. "
                                 "Please shorten it and send it again; nothing was saved "
                                 "yet.")).format(length=ctx.t.number(len(text)),
                                                 max=ctx.t.number(limit)))
        await ctx.uow.workshops.feedback_comment(int(ctx.data.get("registration_id", -1)), text)
        return Go("menu.idle", notice=ctx._(N_("Thank you for your feedback!")))

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        return stay(ctx._(N_("I can only take a written comment here. Please write it, or "
                             "tap “Skip”.")))
