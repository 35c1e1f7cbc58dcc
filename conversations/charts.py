"""The /stats charts: PNG pictures drawn from :mod:`storage.stats`' numbers.

Bot-independent: each function takes the figures and a
:class:`~conversations.i18n.Translator` (labels in the reader's language,
numbers in their locale) and returns PNG bytes. Drawing uses matplotlib's
object API on the Agg canvas, never pyplot: no global state, no display,
safe to run in a worker thread (``asyncio.to_thread``). matplotlib is
imported on first use: importing the bot (or the command line) does not pay
for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conversations.i18n import N_, Translator
from storage.stats import (
    Participants,
    ProposalFigures,
    ServiceOpinions,
    TicketFigures,
    WorkshopFigures,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 1000, 600, 100
LABEL_MAX = 28
# One colour per score 1..5 (red to green), readable by most colour-blind people.
SCORE_COLOURS = ("#d7191c", "#fdae61", "#e6d96b", "#a6d96a", "#1a9641")
BAR_COLOUR = "#2b6cb0"
SECOND_COLOUR = "#ed8936"
THIRD_COLOUR = "#38a169"

PROPOSAL_STATUS_LABELS = {
    "pending": N_("Waiting for moderation"),
    "published": N_("Published"),
    "under_study": N_("Under study"),
    "accepted": N_("Accepted"),
    "rejected": N_("Not accepted"),
    "implemented": N_("Implemented"),
}


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[:LABEL_MAX - 1] + "…"


def _figure(title: str) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI,
                    layout="constrained", facecolor="white")
    figure.suptitle(title, fontsize=15, fontweight="bold")
    return figure


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _integer_axis(axis, t: Translator) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda value, _: t.number(int(value))))


def _label_bars(axes, bars, values: Sequence[int | float], t: Translator) -> None:  # type: ignore[no-untyped-def]
    axes.bar_label(bars, labels=[t.number(v) for v in values], padding=3)


def participants_chart(figures: Participants, t: Translator, title: str) -> bytes:
    figure = _figure(title)
    axes = figure.add_subplot()
    labels = [t.gettext(N_("In all")), t.gettext(N_("Opinions")), t.gettext(N_("Proposals")),
              t.gettext(N_("Ratings")), t.gettext(N_("Workshops"))]
    values = [figures.total, figures.opinions, figures.proposals, figures.ratings,
              figures.workshops]
    bars = axes.bar(labels, values, color=[SECOND_COLOUR] + [BAR_COLOUR] * 4)
    _label_bars(axes, bars, values, t)
    axes.set_ylabel(t.gettext(N_("People")))
    _integer_axis(axes.yaxis, t)
    axes.margins(y=0.15)
    return _png(figure)


def opinions_chart(services: Sequence[ServiceOpinions], t: Translator, title: str) -> bytes:
    """One horizontal bar per service, split by score (1 to 5), its average beside it."""
    figure = _figure(title)
    axes = figure.add_subplot()
    names = [_short(s.title) for s in services][::-1]
    left = [0] * len(services)
    ordered = list(services)[::-1]
    for score in range(5):
        counts = [s.distribution[score] for s in ordered]
        axes.barh(names, counts, left=left, color=SCORE_COLOURS[score],
                  label=t.gettext(N_("{score} of 5")).format(score=score + 1))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    for row, service in enumerate(ordered):
        if service.count:
            text = t.gettext(N_("average {average}")).format(average=t.number(service.average
                                                                              or 0))
            axes.text(left[row], row, f"  {text}", va="center")
    axes.set_xlabel(t.gettext(N_("Opinions")))
    _integer_axis(axes.xaxis, t)
    axes.margins(x=0.25)
    figure.legend(loc="outside lower center", ncols=5)
    return _png(figure)


def proposals_chart(figures: ProposalFigures, t: Translator, title: str) -> bytes:
    figure = _figure(title)
    axes = figure.add_subplot()
    statuses = [s for s, n in figures.by_status.items() if n]
    labels = [t.gettext(PROPOSAL_STATUS_LABELS[s]) for s in statuses][::-1]
    values = [figures.by_status[s] for s in statuses][::-1]
    bars = axes.barh(labels, values, color=BAR_COLOUR)
    _label_bars(axes, bars, values, t)
    axes.set_xlabel(t.gettext(N_("Proposals")))
    _integer_axis(axes.xaxis, t)
    axes.margins(x=0.15)
    return _png(figure)


def workshops_chart(workshops: Sequence[WorkshopFigures], t: Translator, title: str) -> bytes:
    """Sign-ups, attendance and feedback answers side by side, per workshop."""
    figure = _figure(title)
    axes = figure.add_subplot()
    width = 0.27
    positions = range(len(workshops))
    series = (
        (N_("Signed up"), [w.signed_up for w in workshops], BAR_COLOUR),
        (N_("Attended"), [w.attended for w in workshops], THIRD_COLOUR),
        (N_("Feedback answers"), [w.feedback_answers for w in workshops], SECOND_COLOUR),
    )
    for index, (label, values, colour) in enumerate(series):
        bars = axes.bar([p + (index - 1) * width for p in positions], values, width,
                        label=t.gettext(label), color=colour)
        _label_bars(axes, bars, values, t)
    axes.set_xticks(list(positions), [_short(w.title) for w in workshops])
    if len(workshops) > 4:  # long names side by side would overlap
        for label in axes.get_xticklabels():
            label.set(rotation=30, horizontalalignment="right", rotation_mode="anchor")
    axes.set_ylabel(t.gettext(N_("People")))
    _integer_axis(axes.yaxis, t)
    axes.margins(y=0.15)
    figure.legend(loc="outside lower center", ncols=3)
    return _png(figure)


def tickets_chart(figures: TicketFigures, t: Translator, title: str) -> bytes:
    """Opened and closed on the left; how satisfied people were on the right."""
    figure = _figure(title)
    counts, scores = figure.subplots(1, 2)
    values = [figures.opened, figures.closed]
    bars = counts.bar([t.gettext(N_("Tickets opened")), t.gettext(N_("Tickets closed"))], values,
                      color=[BAR_COLOUR, THIRD_COLOUR])
    _label_bars(counts, bars, values, t)
    counts.set_ylabel(t.gettext(N_("Tickets")))
    _integer_axis(counts.yaxis, t)
    counts.margins(y=0.15)
    bars = scores.bar([str(n) for n in range(1, 6)], figures.satisfaction, color=SCORE_COLOURS)
    _label_bars(scores, bars, figures.satisfaction, t)
    scores.set_xlabel(t.gettext(N_("Satisfaction (1 to 5)")))
    scores.set_ylabel(t.gettext(N_("Answers")))
    _integer_axis(scores.yaxis, t)
    scores.margins(y=0.15)
    return _png(figure)
