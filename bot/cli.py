"""The ``participa`` command: whole-system verbs at the top, things with verbs below.

    participa run                          the bot: polling, or webhook when WEBHOOK_URL is set
    participa console                      every journey in a terminal
    participa db upgrade|downgrade|current
    participa import FILE... | --demo
    participa export opinions [--lab SLUG] [--format csv|xlsx] [--output FILE]
    participa export attendees --workshop SLUG [--sensitive] [--format csv|xlsx] [--output FILE]
    participa workshops list
    participa workshops create --lab SLUG --title TEXT --starts "YYYY-MM-DD HH:MM"
        --capacity N (--place TEXT | --online-url URL) [--minutes 120] [--slug SLUG]
    participa report LAB [--format md|csv|xlsx] [--output FILE]
    participa purge [--dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="participa", description="Participa, the citizen "
                                     "participation bot.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    verbs.add_parser("run", help="run the bot on Telegram (polling, or webhook with WEBHOOK_URL)")

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

    importer = verbs.add_parser("import", help="load labs and services (YAML), idempotent "
                                "by slug")
    importer.add_argument("files", nargs="*", type=Path)
    importer.add_argument("--demo", action="store_true", help="load the demo lab")

    report = verbs.add_parser("report", help="a lab's report for its results event")
    report.add_argument("lab", help="the lab's slug")
    report.add_argument("--format", choices=["md", "csv", "xlsx"], default="md")
    report.add_argument("--output", type=Path, help="write here instead of standard output")

    purge = verbs.add_parser("purge", help="erase the personal data of people inactive for "
                             "RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="only count them")

    export = verbs.add_parser("export", help="export data for staff (CSV or XLSX)")
    export.add_argument("what", choices=["opinions", "attendees"])
    export.add_argument("--lab", help="opinions: only this lab (slug)")
    export.add_argument("--workshop", help="attendees: the workshop (slug)")
    export.add_argument("--sensitive", action="store_true",
                        help="attendees: include the answers to sensitive questions")
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--output", type=Path, help="write here instead of standard output")

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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"participa: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
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
        from bot.app import run_bot

        asyncio.run(run_bot(settings))
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
    if args.verb == "export":
        _require_schema(settings)
        return asyncio.run(_export(settings, args))
    if args.verb == "report":
        _require_schema(settings)
        return asyncio.run(_report(settings, args))
    if args.verb == "purge":
        _require_schema(settings)
        return asyncio.run(_purge(settings, args.dry_run))
    if args.verb == "workshops":
        _require_schema(settings)
        from bot.workshops_cli import create_workshop, list_workshops

        if args.workshops_verb == "list":
            return asyncio.run(list_workshops(settings))
        return asyncio.run(create_workshop(settings, args))
    return 2


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


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine, session_factory
    from storage.export import write_table
    from storage.reports import attendees_table, opinions_table
    from storage.workshops import SqlWorkshops

    if args.what == "attendees" and not args.workshop:
        print("participa export attendees: name the workshop with --workshop SLUG",
              file=sys.stderr)
        return 2
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
                columns, rows = await opinions_table(session, args.lab,
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


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
