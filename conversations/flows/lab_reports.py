"""Staff reports in chat: /stats (charts) and /report LAB (the spreadsheet).

```mermaid
stateDiagram-v2
    [*] --> lab: /stats (more than one lab)
    [*] --> period: /stats (one lab)
    lab --> period: a lab
    period --> [*]: this week / this month / whole lab (the charts)
```

Each chart is a photo whose caption says the same numbers in words, for
people who use a screen reader. The numbers come from :mod:`storage.stats`,
the pictures from :mod:`conversations.charts`, drawn after the event's
transaction commits, in a worker thread (a :class:`Deferred` reply): the
event loop keeps serving others, and no transaction (on SQLite, the write
lock) waits for the drawing. A section without data is
said in text, not drawn as an empty chart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial

from conversations import charts, roles
from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Gone, Screen, State, stay
from conversations.i18n import N_, Translator, pick
from conversations.text import escape
from conversations.vocabulary import Deferred, Document, Edit, Event, Photo, Reply, Send
from storage.export import write_sections
from storage.records import LabRecord
from storage.stats import PRESETS, LabStats, period

stats = Flow("stats", entry="period")

CAPTION_LIMIT = 1024
PRESET_LABELS = {
    "week": N_("This week"),
    "month": N_("This month"),
    "all": N_("The whole lab"),
}


def _title(lab: LabRecord, ctx: Ctx) -> str:
    return escape(pick(lab.title, ctx.language, ctx.settings.default_language))


# -- /stats -----------------------------------------------------------------------


@roles.staff_command("stats", roles.STAFF, N_("Charts of a lab's participation"))
async def stats_command(event: Event, ctx: Ctx) -> Go:
    if ctx.in_moderators_chat:  # the group keeps no conversation to choose in
        return Go(show=False, notice=ctx._(N_(
            "The statistics are chosen step by step: please write /stats to me in a private "
            "chat.")))
    if not ctx.consented:  # an ADMIN_IDS admin who never accepted the privacy notice
        return Go("start.welcome")
    labs = await ctx.uow.stats.labs()
    if not labs:
        return stay(ctx._(N_("There are no laboratories yet, so there are no statistics.")))
    if len(labs) == 1:
        return Go("stats.period", carry={"lab_id": labs[0].id})
    return Go("stats.lab")


@stats.state("lab")
class ChooseLab(State):
    help = N_("Tap the laboratory whose statistics you want to see.")

    async def show(self, ctx: Ctx) -> Screen:
        rows = [(ctx.button(_title(lab, ctx), "lab", lab.id),)
                for lab in await ctx.uow.stats.labs()]
        rows.append(ctx.back_cancel(back=False))
        return Screen("📊 " + ctx._(N_("<b>Statistics</b>\n\nWhich laboratory?")), tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "lab":
            return None
        if data.int_id() not in [lab.id for lab in await ctx.uow.stats.labs()]:
            raise Gone
        return Go("period", carry={"lab_id": data.int_id()})


async def _lab(ctx: Ctx) -> LabRecord:
    wanted = ctx.data.get("lab_id")
    for lab in await ctx.uow.stats.labs():
        if lab.id == wanted:
            return lab
    raise Gone


@stats.state("period")
class ChoosePeriod(State):
    help = N_("Tap the period: this week (since Monday), this month, or everything since "
              "the laboratory began.")

    async def show(self, ctx: Ctx) -> Screen:
        lab = await _lab(ctx)
        rows = [(ctx.button(ctx._(label), "period", preset),)
                for preset, label in PRESET_LABELS.items()]
        several = len(await ctx.uow.stats.labs()) > 1
        rows.append(ctx.back_cancel(back=several))
        return Screen("📊 " + ctx._(N_("<b>Statistics of {lab}</b>\n\nWhich period?")).format(
            lab=_title(lab, ctx)), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "lab" if len(await ctx.uow.stats.labs()) > 1 else None

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "period" or data.id() not in PRESETS:
            return None
        lab = await _lab(ctx)
        span = period(data.id() or "", ctx.now, ctx.settings.timezone)
        figures = await ctx.uow.stats.lab(lab.id, span, ctx.language)
        if figures is None:
            raise Gone
        heading = "📊 " + ctx._(N_("<b>Statistics of {lab}</b>\n{period}")).format(
            lab=_title(lab, ctx), period=describe_period(data.id() or "", figures, ctx))
        # Drawn after the commit, in a worker thread (see Deferred).
        charts_later = Deferred(partial(sections, figures, ctx.t), failed=ctx._(N_(
            "Sorry, I could not draw the charts. Please try again in a few minutes.")))
        return Go("menu.idle", show=False, replies=(Edit(heading), charts_later))


def describe_period(preset: str, figures: LabStats, ctx: Ctx) -> str:
    start, end = figures.period.start, figures.period.end
    if start is None or end is None:
        return ctx._(N_("Since the laboratory began"))
    # end is the next period's first midnight: its day before is the last one.
    return ctx._(N_("{period}: from {start} to {end}")).format(
        period=ctx._(PRESET_LABELS[preset]), start=ctx.t.date(start, "medium"),
        end=ctx.t.date(end - timedelta(hours=12), "medium"))


# -- what each section says and draws ----------------------------------------------

Section = Callable[[LabStats, Translator], tuple[Reply, ...]]


def photo(png: bytes, title: str, summary: str) -> tuple[Reply, ...]:
    """The chart with its summary as the caption; a summary too long for a
    caption follows as a message of its own (nothing is cut)."""
    text = f"<b>{title}</b>\n{summary}"
    if len(text) <= CAPTION_LIMIT:
        return (Photo(png, caption=text),)
    return Photo(png, caption=f"<b>{title}</b>"), Send(text)


def _score(t: Translator, value: float | None) -> str:
    return t.number(value) if value is not None else "—"


def participants_section(figures: LabStats, t: Translator) -> tuple[Reply, ...]:
    title = "👥 " + t.gettext(N_("Participants"))
    found = figures.participants
    if not found.total:
        return (Send(f"<b>{title}</b>\n" + t.gettext(N_("Nobody took part in this period."))),)
    lines = [t.ngettext("{count} person took part.", "{count} people took part.",
                        found.total).format(count=t.number(found.total))]
    for label, count in ((N_("Gave an opinion: {count}"), found.opinions),
                         (N_("Wrote a proposal: {count}"), found.proposals),
                         (N_("Rated proposals: {count}"), found.ratings),
                         (N_("Signed up for a workshop: {count}"), found.workshops)):
        lines.append("• " + t.gettext(label).format(count=t.number(count)))
    png = charts.participants_chart(found, t, t.gettext(N_("Participants")))
    return photo(png, title, "\n".join(lines))


def opinions_section(figures: LabStats, t: Translator) -> tuple[Reply, ...]:
    title = "⭐ " + t.gettext(N_("Opinions per service"))
    if not any(s.count for s in figures.services):
        return (Send(f"<b>{title}</b>\n" + t.gettext(N_("No opinions in this period."))),)
    lines = []
    for service in figures.services:
        if not service.count:
            lines.append("• " + t.gettext(N_("{service}: no opinions")).format(
                service=escape(service.title)))
            continue
        spread = " · ".join(f"{n + 1}★ {t.number(c)}" for n, c in enumerate(service.distribution))
        lines.append("• " + t.ngettext(
            "{service}: {count} opinion, average {average} ({spread})",
            "{service}: {count} opinions, average {average} ({spread})",
            service.count).format(service=escape(service.title),
                                  count=t.number(service.count),
                                  average=_score(t, service.average), spread=spread))
    png = charts.opinions_chart(figures.services, t, t.gettext(N_("Opinions per service")))
    return photo(png, title, "\n".join(lines))


def proposals_section(figures: LabStats, t: Translator) -> tuple[Reply, ...]:
    title = "💡 " + t.gettext(N_("Proposals"))
    found = figures.proposals
    if not found.total:
        return (Send(f"<b>{title}</b>\n" + t.gettext(N_("No proposals in this period."))),)
    lines = [t.ngettext("{count} proposal:", "{count} proposals:", found.total).format(
        count=t.number(found.total))]
    lines += [f"• {t.gettext(charts.PROPOSAL_STATUS_LABELS[status])}: {t.number(count)}"
              for status, count in found.by_status.items() if count]
    if found.best:
        lines.append(t.gettext(N_("Best rated:")))
        for place, best in enumerate(found.best, start=1):
            lines.append(f"{place}. " + t.ngettext(
                "{title} ({reference}): average {average} from {count} rating",
                "{title} ({reference}): average {average} from {count} ratings",
                best.ratings).format(title=escape(best.title), reference=best.reference,
                                     average=_score(t, best.average),
                                     count=t.number(best.ratings)))
    else:
        lines.append(t.gettext(N_("No proposal has been rated yet.")))
    png = charts.proposals_chart(found, t, t.gettext(N_("Proposals by status")))
    return photo(png, title, "\n".join(lines))


def workshops_section(figures: LabStats, t: Translator) -> tuple[Reply, ...]:
    title = "📅 " + t.gettext(N_("Workshops"))
    if not figures.workshops:
        return (Send(f"<b>{title}</b>\n" + t.gettext(N_("No workshops in this period."))),)
    lines = []
    for w in figures.workshops:
        line = t.gettext(N_("{workshop} ({date}): signed up {signed_up}, attended {attended}, "
                            "feedback answers {answers}")).format(
            workshop=escape(w.title), date=t.date(w.starts_at, "medium"),
            signed_up=t.number(w.signed_up), attended=t.number(w.attended),
            answers=t.number(w.feedback_answers))
        if w.feedback_average is not None:
            line += ", " + t.gettext(N_("average feedback {average}")).format(
                average=t.number(w.feedback_average))
        lines.append("• " + line)
    png = charts.workshops_chart(figures.workshops, t,
                                 t.gettext(N_("Workshop sign-ups, attendance and feedback")))
    return photo(png, title, "\n".join(lines))


def tickets_section(figures: LabStats, t: Translator) -> tuple[Reply, ...]:
    title = "🎫 " + t.gettext(N_("Questions to the team (tickets, all laboratories)"))
    found = figures.tickets
    if not found.opened and not found.closed:
        return (Send(f"<b>{title}</b>\n" + t.gettext(N_("No tickets in this period."))),)
    lines = [t.gettext(N_("Opened: {opened}. Closed: {closed}.")).format(
        opened=t.number(found.opened), closed=t.number(found.closed))]
    if found.satisfaction_answers:
        lines.append(t.ngettext(
            "Satisfaction: average {average} from {count} answer.",
            "Satisfaction: average {average} from {count} answers.",
            found.satisfaction_answers).format(
            average=_score(t, found.satisfaction_average),
            count=t.number(found.satisfaction_answers)))
    else:
        lines.append(t.gettext(N_("Nobody has rated the answers yet.")))
    png = charts.tickets_chart(found, t, t.gettext(N_("Tickets and satisfaction")))
    return photo(png, title, "\n".join(lines))


SECTIONS: tuple[Section, ...] = (participants_section, opinions_section, proposals_section,
                                 workshops_section, tickets_section)


def sections(figures: LabStats, t: Translator) -> tuple[Reply, ...]:
    """Every section's replies in order (runs in a worker thread: it draws)."""
    return tuple(reply for section in SECTIONS for reply in section(figures, t))


# -- /report LAB ----------------------------------------------------------------------


@roles.staff_command("report", roles.STAFF, N_("A laboratory's full report (spreadsheet)"))
async def report_command(event: Event, ctx: Ctx) -> Go:
    labs = await ctx.uow.stats.labs()
    slug = event.args.strip().split(" ")[0] if event.args.strip() else ""
    if not slug and len(labs) == 1:
        slug = labs[0].slug
    lab = next((lab for lab in labs if lab.slug == slug), None)
    if lab is None:
        codes = ", ".join(f"<code>{escape(lab.slug)}</code>" for lab in labs) or "—"
        if not slug:
            text = N_("Please write the laboratory's code after the command, for example "
                      "/report {example}. Codes: {codes}")
        else:
            text = N_("There is no laboratory with the code {code}. Codes: {codes}")
        return stay(ctx._(text).format(code=escape(slug), codes=codes,
                                       example=escape(labs[0].slug if labs else "code")),
                    show=False)
    found = await ctx.uow.stats.report(lab.slug, ctx.language, ctx.now)
    if found is None:
        raise Gone
    summary = dict(found[0].rows)
    t = ctx.t
    text = "📄 " + ctx._(N_("<b>Report of {lab}</b>\nParticipants: {participants} · Opinions: "
                           "{opinions} (average {average}) · Proposals: {proposals} · "
                           "Workshops: {workshops} · Tickets (all laboratories): {tickets}\n"
                           "The spreadsheet has one sheet per table.")).format(
        lab=_title(lab, ctx), participants=t.number(summary["participants"]),
        opinions=t.number(summary["opinions"]), average=_score(t, summary["average_rating"]),
        proposals=t.number(summary["proposals"]), workshops=t.number(summary["workshops"]),
        tickets=t.number(summary["tickets"]))
    name = f"report-{lab.slug}-{ctx.now.astimezone(t.timezone):%Y%m%d}.xlsx"
    timezone = ctx.settings.timezone

    def spreadsheet() -> tuple[Reply, ...]:
        return Document(name, write_sections(found, "xlsx", timezone)), Send(text)
    # Written after the commit, in a worker thread: a big lab's file takes a while.
    return Go(show=False, replies=(Deferred(spreadsheet, failed=ctx._(N_(
        "Sorry, I could not make the report. Please try again in a few minutes."))),))
