"""The ``participa`` command: whole-system verbs at the top, things with verbs below.

    participa run [--workers N]            the bot: polling, or webhook when WEBHOOK_URL is set
    participa console                      every journey in a terminal
    participa db upgrade|downgrade|current
    participa import FILE... | --demo
    participa export opinions|proposals|ratings [--lab SLUG] [--format csv|xlsx] [--output FILE]
    participa export attendees --workshop SLUG [--sensitive] [--format csv|xlsx] [--output FILE]
    participa workshops list
    participa workshops create --lab SLUG --title TEXT --starts "YYYY-MM-DD HH:MM"
        --capacity N (--place TEXT | --online-url URL) [--minutes 120] [--slug SLUG]
    participa report LAB [--format md|csv|xlsx] [--output FILE]
    participa proposals status SLUG STATUS [--reason TEXT]
    participa purge [--dry-run]
    participa roles grant|revoke ROLE PERSON | list
    participa broadcasts list|status ID|pause ID|resume ID|cancel ID
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging
from storage.models import PROPOSAL_STATUSES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="participa", description="Participa, the citizen "
                                     "participation bot.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    run = verbs.add_parser("run", help="run the bot on Telegram (polling, or webhook with "
                                       "WEBHOOK_URL)")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="N webhook workers on consecutive ports from WEBHOOK_LISTEN and "
                          "OPS_LISTEN (N > 1 needs WEBHOOK_URL, PostgreSQL and Redis)")

    console = verbs.add_parser("console", help="play every journey in this terminal")
    console.add_argument("--user-id", type=int, default=1000,
                         help="the citizen id the console speaks as (default 1000)")
    console.add_argument("--language", default=None, help="the language the console "
                         "claims, like Telegram's language_code (default: DEFAULT_LOCALE)")

    db = verbs.add_parser("db", help="database schema")
    db_verbs = db.add_subparsers(dest="db_verb", required=True, metavar="ACTION")
    up = db_verbs.add_parser("upgrade", help="migrate to the latest schema (or REVISION)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_verbs.add_parser("downgrade", help="undo the last migration (or down to REVISION)")
    down.add_argument("revision", nargs="?", default="-1")
    db_verbs.add_parser("current", help="show the schema revision")

    importer = verbs.add_parser("import", help="load labs, services and proposals (YAML; "
                                "proposals also CSV), idempotent by slug")
    importer.add_argument("files", nargs="*", type=Path)
    importer.add_argument("--demo", action="store_true", help="load the demo lab")

    report = verbs.add_parser("report", help="a lab's report for its results event")
    report.add_argument("lab", help="the lab's slug")
    report.add_argument("--format", choices=["md", "csv", "xlsx"], default="md")
    report.add_argument("--output", type=Path, help="write here instead of standard output")

    purge = verbs.add_parser("purge", help="erase the personal data of people inactive for "
                             "RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="only count them")

    roles = verbs.add_parser("roles", help="who may moderate, run workshops, administer")
    role_verbs = roles.add_subparsers(dest="roles_verb", required=True, metavar="ACTION")
    for action, text in (("grant", "give PERSON a role"), ("revoke", "take a role away")):
        change = role_verbs.add_parser(action, help=text)
        change.add_argument("role", choices=["moderator", "staff", "admin"])
        change.add_argument("person", help="a Telegram id, or an @username the bot has seen")
    role_verbs.add_parser("list", help="everyone holding a role")

    export = verbs.add_parser("export", help="export data for staff (CSV or XLSX)")
    export.add_argument("what", choices=["opinions", "proposals", "ratings", "attendees"])
    export.add_argument("--lab", help="only this lab (slug)")
    export.add_argument("--workshop", help="attendees: the workshop (slug)")
    export.add_argument("--sensitive", action="store_true",
                        help="attendees: include the answers to sensitive questions")
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--output", type=Path, help="write here instead of standard output")

    proposals = verbs.add_parser("proposals", help="proposals: change a status")
    proposal_verbs = proposals.add_subparsers(dest="proposals_verb", required=True,
                                              metavar="ACTION")
    status = proposal_verbs.add_parser(
        "status", help="set a proposal's status and tell the citizens who took part")
    status.add_argument("slug", help="the proposal's slug (pr-000045 for PR-000045)")
    status.add_argument("status", choices=list(PROPOSAL_STATUSES))
    status.add_argument("--reason", help="the reason (rejected) or the administration's "
                        "answer, in DEFAULT_LOCALE")
    broadcasts = verbs.add_parser("broadcasts", help="news and workshop invitations: "
                                  "delivery figures; pause, resume or cancel")
    broadcast_verbs = broadcasts.add_subparsers(dest="broadcasts_verb", required=True,
                                                metavar="ACTION")
    broadcast_verbs.add_parser("list", help="the latest broadcasts and their figures")
    for action, text in (("status", "one broadcast's figures"),
                         ("pause", "stop sending it for now (nothing is lost)"),
                         ("resume", "send a paused broadcast again"),
                         ("cancel", "never send what is left of it")):
        found = broadcast_verbs.add_parser(action, help=text)
        found.add_argument("id", type=_broadcast_id, help="the broadcast: 12 or B-000012")

    workshops = verbs.add_parser("workshops", help="list or create workshops")
    workshop_verbs = workshops.add_subparsers(dest="workshops_verb", required=True,
                                              metavar="ACTION")
    workshop_verbs.add_parser("list", help="workshops not over yet, with their numbers")
    create = workshop_verbs.add_parser(
        "create", help="a new workshop (questions: use an import file, or /newworkshop)")
    create.add_argument("--lab", required=True, help="the lab's slug")
    create.add_argument("--title", required=True, help="in DEFAULT_LOCALE's language")
    create.add_argument("--description", default="")
    create.add_argument("--starts", required=True,
                        help='local time in TIMEZONE: "YYYY-MM-DD HH:MM"')
    create.add_argument("--minutes", type=int, default=120, help="duration (default 120)")
    create.add_argument("--capacity", type=int, required=True)
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--place", help="the address")
    where.add_argument("--online-url", help="the link of an online workshop")
    create.add_argument("--slug", help="default: from the title and the date")
    return parser


def _broadcast_id(value: str) -> int:
    digits = value.upper().removeprefix("B-")
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"not a broadcast id: {value!r} (12 or B-000012)")
    return int(digits)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"participa: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(**settings.log_settings())
    try:
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from bot.app import NotReady
        from storage.errors import is_unavailable
        from storage.importer import ImportProblem

        if isinstance(error, NotReady | ImportProblem):
            print(f"participa: {error}", file=sys.stderr)
            return 1
        if is_unavailable(error):
            print(f"participa: cannot reach the database or Redis ({type(error).__name__}); "
                  "check DATABASE_URL and REDIS_URL", file=sys.stderr)
            return 1
        raise


def _require_schema(settings: Settings) -> None:
    """Workers and tools never migrate by themselves: say what to run instead."""
    from bot.app import NotReady
    from storage import migrate

    if not migrate.is_up_to_date(settings.database_url):
        raise NotReady("the database is not up to date: run `participa db upgrade` first")


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    if args.verb == "run":
        from bot.workers import (
            CannotScaleOut,
            check_scale_out,
            prepare_metrics_dir,
            run_workers,
        )

        try:
            check_scale_out(settings, args.workers)
        except CannotScaleOut as error:
            print(f"participa: {error}", file=sys.stderr)
            return 2
        if args.workers > 1:
            # The supervisor imports nothing that records metrics: its own
            # files would be left in PROMETHEUS_MULTIPROC_DIR.
            return run_workers(settings, args.workers)
        prepare_metrics_dir(1)  # before anything records a metric
        from bot import gc_tuning
        from bot.app import run_bot

        asyncio.run(run_bot(settings, on_serving=gc_tuning.settle_after_start))
        return 0
    if args.verb == "console":
        _require_schema(settings)
        return asyncio.run(_console(settings, args))
    if args.verb == "db":
        if args.db_verb == "upgrade":
            migrate.upgrade(settings.database_url, args.revision)
        elif args.db_verb == "downgrade":
            migrate.downgrade(settings.database_url, args.revision)
        print(f"schema revision: {migrate.current(settings.database_url) or 'none'}")
        return 0
    if args.verb == "import":
        if not args.files and not args.demo:
            print("participa import: name one or more files, or --demo", file=sys.stderr)
            return 2
        _require_schema(settings)
        return asyncio.run(_import(settings, args))
    verb = DATA_VERBS.get(args.verb)
    if verb is None:
        return 2
    _require_schema(settings)
    return asyncio.run(verb(settings, args))


async def _purge_verb(settings: Settings, args: argparse.Namespace) -> int:
    return await _purge(settings, args.dry_run)


async def _workshops(settings: Settings, args: argparse.Namespace) -> int:
    from bot.workshops_cli import create_workshop, list_workshops

    if args.workshops_verb == "list":
        return await list_workshops(settings)
    return await create_workshop(settings, args)


async def _roles(settings: Settings, args: argparse.Namespace) -> int:
    """Grants here are audited (by "the command line") and the person's command
    menu changes through the outbox, sent by the running bot."""
    from conversations.engine import notification
    from conversations.flows.staff import change_role
    from storage.database import create_engine, session_factory
    from storage.sql import SqlUnitOfWork

    db = create_engine(settings.database_url)
    try:
        async with SqlUnitOfWork(session_factory(db)) as uow:
            if args.roles_verb == "list":
                for person in await uow.staff.holders():
                    name = " ".join(x for x in (person.first_name, f"@{person.username}"
                                                if person.username else None) if x)
                    print(f"{person.telegram_id}\t{name}\t{', '.join(sorted(person.roles))}")
                for admin in settings.admin_ids:
                    print(f"{admin}\t(ADMIN_IDS)\tadmin")
                return 0
            target: str = args.person
            person = await (uow.staff.by_username(target[1:]) if target.startswith("@")
                            else uow.staff.by_telegram_id(int(target))
                            if target.lstrip("-").isdigit() else None)
            if person is None:
                print(f"participa roles: nobody known as {target!r}. Telegram does not let a "
                      "bot look a user up by username: use their numeric id (they must have "
                      "accepted the privacy notice).", file=sys.stderr)
                return 1
            now = datetime.now(UTC)
            grant = args.roles_verb == "grant"
            changed, menu = await change_role(uow, person, args.role, grant, None, now,
                                              settings.default_locale)
            if changed:
                await uow.outbox.enqueue(notification(menu, now))
            await uow.commit()
    finally:
        await db.dispose()
    done = ("granted" if grant else "revoked") if changed else "unchanged"
    print(f"{person.telegram_id}: {args.role} {done}")
    return 0


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import run_console
    from bot.runtime import Runtime

    runtime = Runtime.create(settings)
    try:
        await run_console(runtime.engine, user_id=args.user_id,
                          language=args.language or settings.default_locale)
    finally:
        await runtime.close()
    return 0


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine, session_factory
    from storage.importer import import_demo, import_file

    db = create_engine(settings.database_url)
    sessions = session_factory(db)
    now = datetime.now(UTC)
    try:
        reports = []
        if args.demo:
            reports.append(("demo", await import_demo(sessions, now)))
        for path in args.files:
            reports.append((str(path), await import_file(sessions, path, now)))
    finally:
        await db.dispose()
    for name, report in reports:
        print(f"{name}: {report}")
    return 0


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine, session_factory
    from storage.export import write_sections
    from storage.reports import lab_report

    db = create_engine(settings.database_url)
    try:
        async with session_factory(db)() as session:
            sections = await lab_report(session, args.lab, settings.default_locale,
                                        datetime.now(UTC))
    finally:
        await db.dispose()
    if sections is None:
        print(f"participa report: there is no lab {args.lab!r}", file=sys.stderr)
        return 1
    content = write_sections(sections, args.format, tz=settings.timezone)
    if args.output:
        args.output.write_bytes(content)
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(content)
    return 0


async def _purge(settings: Settings, dry_run: bool) -> int:
    from storage.database import create_engine, session_factory
    from storage.personal_data import purge_inactive
    from storage.workshops import count_sensitive_answers_over, purge_sensitive_answers

    db = create_engine(settings.database_url)
    sessions = session_factory(db)
    now = datetime.now(UTC)
    try:
        report = await purge_inactive(sessions, now, settings.retention_days, dry_run=dry_run)
        async with sessions() as session:
            if dry_run:
                answers = await count_sensitive_answers_over(session, now)
            else:
                answers = await purge_sensitive_answers(session, now)
                await session.commit()
    finally:
        await db.dispose()
    verb = "would be erased" if dry_run else "erased"
    print(f"{report.people} people inactive for {settings.retention_days} days {verb}")
    print(f"{answers} sensitive answers of workshops that are over {verb}")
    for table, count in sorted(report.counts.items()):
        print(f"  {table}: {count}")
    return 0


async def _proposal_status(settings: Settings, args: argparse.Namespace) -> int:
    """One transaction: the new status and one outbox row to each citizen who took part
    (the running bot's sender delivers them)."""
    import conversations.flows  # noqa: F401  (registers the flows and their strings)
    from conversations.flows.proposal_news import change_status
    from storage.database import create_engine, session_factory
    from storage.sql import SqlUnitOfWork

    db = create_engine(settings.database_url)
    try:
        async with SqlUnitOfWork(session_factory(db)) as uow:
            done = await change_status(uow, args.slug, args.status, args.reason,
                                       datetime.now(UTC), language=settings.default_locale,
                                       timezone=settings.timezone)
            await uow.commit()
    finally:
        await db.dispose()
    if done is None:
        print(f"participa proposals: there is no proposal {args.slug!r}", file=sys.stderr)
        return 1
    previous, queued = done
    print(f"{args.slug}: {previous} -> {args.status}; {queued} notification(s) queued")
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine, session_factory
    from storage.export import write_table
    from storage.reports import attendees_table, opinions_table, proposals_table, ratings_table
    from storage.workshops import SqlWorkshops

    if args.what == "attendees" and not args.workshop:
        print("participa export attendees: name the workshop with --workshop SLUG",
              file=sys.stderr)
        return 2
    tables = {"opinions": opinions_table, "proposals": proposals_table,
              "ratings": ratings_table}
    db = create_engine(settings.database_url)
    try:
        async with session_factory(db)() as session:
            if args.what == "attendees":
                workshop = await SqlWorkshops(session).by_slug(args.workshop)
                if workshop is None:
                    print(f"participa export: there is no workshop {args.workshop!r}",
                          file=sys.stderr)
                    return 1
                columns, rows = await attendees_table(
                    session, workshop.id, settings.default_locale,
                    include_sensitive=args.sensitive)
            else:
                columns, rows = await tables[args.what](session, args.lab,
                                                        settings.default_locale)
    finally:
        await db.dispose()
    content = write_table(columns, rows, args.format, tz=settings.timezone)
    if args.output:
        args.output.write_bytes(content)
        print(f"{len(rows)} rows written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(content)
    return 0


def _figures_lines(figures) -> list[str]:  # type: ignore[no-untyped-def]
    audience = figures.audience.get("key", "?")
    if figures.audience.get("value") is not None:
        audience += f" {figures.audience['value']}"
    lines = [f"B-{figures.id:06d}  {figures.kind}  {figures.status}  audience: {audience}  "
             f"languages: {', '.join(sorted(figures.languages))}",
             f"  recipients {figures.recipients}  queued {figures.queued}  sent {figures.sent}"
             f"  failed {figures.failed}  blocked {figures.blocked}"
             f"  cancelled {figures.cancelled}"]
    if figures.status == "queued":
        end = figures.expected_end.isoformat(timespec="seconds") if figures.expected_end \
            else "not known yet (nothing sent in the last minute)"
        lines.append(f"  rate {figures.rate:.1f}/s  expected end {end}")
    elif figures.finished_at is not None:
        lines.append(f"  finished {figures.finished_at.isoformat(timespec='seconds')}")
    return lines


async def _broadcasts(settings: Settings, args: argparse.Namespace) -> int:
    from storage import broadcasts
    from storage.database import create_engine, session_factory

    db = create_engine(settings.database_url)
    now = datetime.now(UTC)
    verb = args.broadcasts_verb
    try:
        async with session_factory(db)() as session:
            if verb == "list":
                found = await broadcasts.latest(session, 20, now)
                if not found:
                    print("no broadcasts yet")
                for figures in found:
                    print("\n".join(_figures_lines(figures)))
                return 0
            if verb != "status":
                refused = await getattr(broadcasts, verb)(session, args.id, now)
                if refused is not None:
                    reason = "there is no such broadcast" if refused == "missing" \
                        else f"it is {refused}"
                    print(f"participa broadcasts {verb}: B-{args.id:06d} not changed: {reason}",
                          file=sys.stderr)
                    return 1
                await session.commit()
            figures = await broadcasts.figures(session, args.id, now)
    finally:
        await db.dispose()
    if figures is None:
        print(f"participa broadcasts: there is no broadcast B-{args.id:06d}", file=sys.stderr)
        return 1
    print("\n".join(_figures_lines(figures)))
    return 0


# The verbs that read or write the database: each needs the schema up to date.
DATA_VERBS: dict[str, Callable[[Settings, argparse.Namespace], Awaitable[int]]] = {
    "export": _export, "report": _report, "purge": _purge_verb,
    "proposals": _proposal_status, "roles": _roles, "broadcasts": _broadcasts,
    "workshops": _workshops,
}


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
