"""A lab with something of everything at known times, for /stats and /report.

NOW (tests.harness) is Tuesday 24 November 2026, 11:00 in Madrid: "this
week" starts on Monday 23 November, "this month" on 1 November.
"""

from __future__ import annotations

from datetime import timedelta

from storage import models as m
from tests.harness import NOW

THIS_WEEK = NOW - timedelta(hours=1)
THIS_MONTH = NOW - timedelta(days=10)  # 14 November
EARLIER = NOW - timedelta(days=40)  # 15 October

# (service, rating, when, citizen index)
OPINIONS = [
    ("phone", 5, THIS_WEEK, 0), ("phone", 4, THIS_WEEK, 1), ("phone", 2, THIS_MONTH, 2),
    ("offices", 1, THIS_WEEK, 0), ("offices", 3, EARLIER, 3),
]
# (slug, status, when, citizen index or None, scores by citizen index)
PROPOSALS = [
    ("longer-hours", "published", THIS_WEEK, 0, {1: 5, 2: 5, 3: 4}),
    ("more-staff", "accepted", THIS_MONTH, 1, {0: 3}),
    ("free-parking", "rejected", THIS_MONTH, None, {}),
    ("better-web", "implemented", EARLIER, 2, {0: 5, 1: 4}),
    ("spam", "pending", THIS_WEEK, 3, {}),
]
# (slug, starts, [(citizen index, status, feedback score)])
WORKSHOPS = [
    ("kickoff", THIS_MONTH, [(0, "attended", 5), (1, "attended", 3), (2, "confirmed", None),
                             (3, "cancelled", None)]),
    ("next", NOW + timedelta(days=2), [(0, "confirmed", None)]),
]
# (created, closed, satisfaction)
TICKETS = [
    (THIS_WEEK, None, None),
    (THIS_MONTH, THIS_WEEK, 4),
    (EARLIER, THIS_MONTH, 2),
    (EARLIER, EARLIER + timedelta(days=1), None),
]
CITIZENS = 4


async def seed_stats(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The fixture; the ids of the labs ("lab", "other")."""
    async with sessions() as session:
        lab = m.Lab(slug="lab", title={"es": "Laboratorio", "en": "Our lab"}, description={},
                    created_at=EARLIER - timedelta(days=30))
        other = m.Lab(slug="other", title={"es": "Otro", "en": "Other lab"}, description={},
                      created_at=NOW - timedelta(days=5))
        session.add_all([lab, other])
        await session.flush()
        people = [m.Citizen(telegram_id=7000 + n, username=f"person{n}", first_name=f"P{n}",
                            language="es", first_seen=EARLIER, last_seen=NOW)
                  for n in range(CITIZENS)]
        session.add_all(people)
        await session.flush()
        services = {}
        for position, slug in enumerate(("phone", "offices", "web")):
            services[slug] = m.Service(lab_id=lab.id, slug=slug, title={"en": slug.title()},
                                       description={}, position=position)
            session.add(services[slug])
        session.add(m.Service(lab_id=other.id, slug="else", title={"en": "Else"},
                              description={}, position=0))
        await session.flush()
        for slug, rating, when, who in OPINIONS:
            session.add(m.Opinion(citizen_id=people[who].id, service_id=services[slug].id,
                                  rating=rating, comment=None, language="es",
                                  channel="telegram", created_at=when))
        for slug, status, when, who, scores in PROPOSALS:
            counts = [0] * 5
            for score in scores.values():
                counts[score - 1] += 1
            total = sum(scores.values())
            proposal = m.Proposal(
                slug=slug, lab_id=lab.id, service_id=None, title={"en": slug.title()},
                description={"en": "Because."},
                author_kind="citizen" if who is not None else "staff",
                citizen_id=people[who].id if who is not None else None, language="en",
                status=status,
                answer={"en": f"Answer to {slug}"} if status in ("accepted", "implemented")
                else {},
                rated_1=counts[0], rated_2=counts[1], rated_3=counts[2], rated_4=counts[3],
                rated_5=counts[4], ratings_count=len(scores), ratings_sum=total,
                rank_score=(3.0 * 5 + total) / (5 + len(scores)),
                created_at=when, updated_at=when, status_changed_at=when)
            session.add(proposal)
            await session.flush()
            for citizen, score in scores.items():
                session.add(m.ProposalRating(proposal_id=proposal.id,
                                             citizen_id=people[citizen].id, score=score,
                                             rated_at=when))
        for slug, starts, registrations in WORKSHOPS:
            workshop = m.Workshop(slug=slug, lab_id=lab.id, title={"en": slug.title()},
                                  description={}, starts_at=starts,
                                  ends_at=starts + timedelta(hours=2), capacity=10,
                                  taken=sum(s == "confirmed" for _, s, _ in registrations),
                                  created_at=EARLIER, updated_at=EARLIER)
            session.add(workshop)
            await session.flush()
            for who, status, score in registrations:
                session.add(m.Registration(
                    workshop_id=workshop.id, citizen_id=people[who].id, status=status,
                    created_at=EARLIER, checkin_token=f"{slug}-{who}",
                    attended_at=starts if status == "attended" else None,
                    feedback_score=score))
        for created, closed, satisfaction in TICKETS:
            session.add(m.Ticket(citizen_id=people[0].id, language="es",
                                 status="closed" if closed else "open",
                                 satisfaction=satisfaction, created_at=created,
                                 closed_at=closed, closed_by="team" if closed else None))
        await session.commit()
        return {"lab": lab.id, "other": other.id}
