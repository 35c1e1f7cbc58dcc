"""``participa workshops list|create``: workshops from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from conversations.flows.workshop_new import slugify
from conversations.flows.workshop_staff import map_link, parse_local
from conversations.i18n import pick
from storage.database import create_engine, session_factory
from storage.importer import SLUG
from storage.workshops import NewWorkshop, SqlWorkshops


async def list_workshops(settings: Settings) -> int:
    db = create_engine(settings.database_url)
    try:
        async with session_factory(db)() as session:
            repo = SqlWorkshops(session)
            found = await repo.all(since=datetime.now(UTC))
            counts = {w.id: await repo.counts(w.id) for w in found}
    finally:
        await db.dispose()
    if not found:
        print("no upcoming workshops")
        return 0
    zone = ZoneInfo(settings.timezone)
    for w in found:
        c = counts[w.id]
        print(f"{w.slug}\t{w.starts_at.astimezone(zone):%Y-%m-%d %H:%M}\t{w.status}\t"
              f"signed up {c.signed_up}/{w.capacity}, waiting {c.waiting + c.offered}, "
              f"attended {c.attended}\t{pick(w.title, settings.default_locale)}")
    return 0


def _problem(message: str) -> int:
    print(f"participa workshops create: {message}", file=sys.stderr)
    return 2


async def create_workshop(settings: Settings, args: argparse.Namespace) -> int:
    starts = parse_local(args.starts, settings.timezone)
    now = datetime.now(UTC)
    if starts is None:
        return _problem(f'--starts {args.starts!r} is not "YYYY-MM-DD HH:MM"')
    if starts <= now:
        return _problem("--starts is in the past")
    if not 15 <= args.minutes <= 720:
        return _problem("--minutes must be from 15 to 720")
    if not 1 <= args.capacity <= 10_000:
        return _problem("--capacity must be from 1 to 10000")
    title = " ".join(args.title.split())
    if not title or len(title) > 200:
        return _problem("--title must have from 1 to 200 characters")
    slug = args.slug or f"{slugify(title)}-{starts.astimezone(ZoneInfo(settings.timezone)):%Y%m%d}"
    if not SLUG.match(slug) or len(slug) > 64:
        return _problem(f"{slug!r} is not a slug (a-z, 0-9 and single hyphens)")
    if args.online_url and not args.online_url.startswith(("https://", "http://")):
        return _problem("--online-url must start with https://")
    language = settings.default_locale
    db = create_engine(settings.database_url)
    try:
        async with session_factory(db)() as session:
            repo = SqlWorkshops(session)
            lab = next((lab for lab in await repo.labs() if lab[1] == args.lab), None)
            if lab is None:
                return _problem(f"there is no lab {args.lab!r}")
            created = await repo.create(NewWorkshop(
                slug=slug, lab_id=lab[0], title={language: title},
                description={language: args.description.strip()}
                if args.description.strip() else {},
                starts_at=starts, ends_at=starts + timedelta(minutes=args.minutes),
                capacity=args.capacity, place=args.place,
                map_url=map_link(args.place) if args.place else None,
                online_url=args.online_url), now)
            if created is None:
                return _problem(f"the slug {slug!r} is taken")
            await session.commit()
    finally:
        await db.dispose()
    print(f"workshop {slug} created")
    return 0
