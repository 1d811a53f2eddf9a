"""``hub webhooks …``: register regional systems' webhook endpoints, see their state and log, deliver now."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.settings import get_settings

app = typer.Typer(help="Webhook endpoints of regional systems: list, create, deliveries, retry, reset-cursor.",
                  no_args_is_help=True)
console = Console()


def _engine():  # type: ignore[no-untyped-def]
    from hub.db import make_engine

    return make_engine(get_settings().resolved_database_url())


def _when(at) -> str:  # type: ignore[no-untyped-def]
    return "" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{escape(message)}[/]")
    return typer.Exit(code)


@app.command("list")
def list_(failing: bool = typer.Option(False, "--failing", help="Only endpoints whose last attempt failed.")) -> None:
    """Endpoints with their cursor, state (ok / failing / disabled), next attempt and last error."""
    from hub.access import SYSTEM
    from hub.db import session_scope
    from hub.webhooks import list_endpoints

    table = Table("id", "url", "region", "types", "state", "cursor", "attempts", "next attempt", "last delivered",
                  title="webhook endpoints" + (" (failing)" if failing else ""))
    errors: list[str] = []
    engine = _engine()
    with session_scope(engine) as session:
        rows = [r for r in list_endpoints(session, principal=SYSTEM) if r.failing or not failing]
        for r in rows:
            state = "disabled" if not r.enabled else "failing" if r.failing else "ok"
            table.add_row(str(r.id), escape(r.url), r.region_code, escape(", ".join(r.event_types)),
                          f"[red]{state}[/]" if state == "failing" else state, str(r.cursor), str(r.attempts),
                          _when(r.next_attempt_at), _when(r.last_delivered_at))
            if r.last_error:
                errors.append(f"{r.id}: {r.last_error}")
    engine.dispose()
    console.print(table if rows else "no webhook endpoints" + (" failing" if failing else ""))
    if errors:
        console.print("[bold]last errors[/]")
        for line in errors:
            console.print(line, markup=False, highlight=False)


@app.command()
def create(
    url: str = typer.Argument(..., help="The receiver's https:// URL."),
    event_type: list[str] = typer.Option(["*"], "--type", "-t", help="An event type or prefix (clue.close, clue.*); repeatable."),
    region: str = typer.Option(..., "--region", help="Jurisdiction: only events within this GB/T 2260 region are sent."),
    description: str = typer.Option("", "--description", help="Whose system it is, e.g. 兖州区人社局."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Send the whole outbox, not only new events."),
) -> None:
    """Register an endpoint; prints its signing secret once (only its encryption is stored)."""
    from hub.access import SYSTEM
    from hub.crypto import Cipher
    from hub.db import session_scope
    from hub.errors import HubError
    from hub.webhooks import create_endpoint

    settings = get_settings()
    engine = _engine()
    try:
        with session_scope(engine) as session:
            row, secret = create_endpoint(
                session, principal=SYSTEM, cipher=Cipher(settings.resolved_secret_key()), url=url, event_types=event_type,
                region_code=region, description=description, from_beginning=from_beginning,
                allow_local_http=settings.webhook_allow_local_http)
            endpoint_id, cursor = row.id, row.cursor
    except HubError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()
    console.print(f"webhook endpoint {endpoint_id} → {escape(url)} (region {region}, after event {cursor})")
    console.print(f"signing secret (shown once): [bold]{secret}[/]")


@app.command()
def deliveries(
    endpoint_id: int = typer.Argument(..., help="The id shown by `hub webhooks list`."),
    limit: int = typer.Option(20, "--limit", min=1, help="The latest this many attempts."),
) -> None:
    """The latest delivery attempts to an endpoint: batch, status code, error and next attempt."""
    from sqlalchemy import select

    from hub import models as m
    from hub.db import session_scope

    d = m.WebhookDelivery
    table = Table("at", "webhook-id", "events", "attempt", "status", "error", "next attempt",
                  title=f"deliveries to webhook endpoint {endpoint_id}")
    engine = _engine()
    try:
        with session_scope(engine) as session:
            if session.get(m.WebhookEndpoint, endpoint_id) is None:
                raise _fail(f"no webhook endpoint {endpoint_id}: see `hub webhooks list`")
            rows = session.execute(select(d).where(d.endpoint_id == endpoint_id).order_by(d.id.desc()).limit(limit)).scalars().all()
            for r in rows:
                table.add_row(_when(r.at), r.msg_id, f"{r.first_event_id}–{r.last_event_id} ({r.event_count})",
                              str(r.attempt), str(r.status_code or "—"), escape(r.error or ""), _when(r.next_attempt_at))
    finally:
        engine.dispose()
    console.print(table if rows else f"no deliveries to webhook endpoint {endpoint_id} yet")


@app.command()
def retry(endpoint_id: int = typer.Option(None, "--id", help="Only this endpoint (see `hub webhooks list`).")) -> None:
    """Deliver now, whatever the back-off, one line per POST; exit 1 when one failed."""
    from hub import models as m
    from hub.crypto import Cipher
    from hub.db import session_scope
    from hub.webhooks import Attempt, deliver_due

    settings = get_settings()
    engine = _engine()
    try:
        if endpoint_id is not None:
            with session_scope(engine) as session:
                row = session.get(m.WebhookEndpoint, endpoint_id)
                if row is None:
                    raise _fail(f"no webhook endpoint {endpoint_id}: see `hub webhooks list`")
                if not row.enabled:
                    raise _fail(f"webhook endpoint {endpoint_id} is disabled: enable it first")

        def show(a: Attempt) -> None:
            what = escape(f"events {a.first_event_id}–{a.last_event_id} ({a.event_count}) → endpoint {a.endpoint_id}")
            if a.status == "acknowledged":
                console.print(f"[green]acknowledged[/] {what}, webhook-id {a.msg_id}")
            elif a.status == "failing":
                console.print(f"[red]failing[/] {what}, attempt {a.attempt}: {escape(a.error or '')}; "
                              f"next attempt {_when(a.next_attempt_at)}")
            else:
                console.print(f"[yellow]{a.status}[/] {what}: the endpoint was changed meanwhile")

        with console.status("delivering webhooks …"):
            report = deliver_due(engine, cipher=Cipher(settings.resolved_secret_key()),
                                 timeout=settings.webhook_timeout_seconds, batch_size=settings.webhook_batch_size,
                                 endpoint_ids=None if endpoint_id is None else [endpoint_id], ignore_schedule=True,
                                 progress=show)
    finally:
        engine.dispose()
    if not report.attempts:
        console.print("nothing to deliver")
    console.print(f"{report.acknowledged} acknowledged, {report.failed} failing")
    raise typer.Exit(1 if report.failed else 0)


@app.command("reset-cursor")
def reset_cursor(
    endpoint_id: int = typer.Argument(..., help="The id shown by `hub webhooks list`."),
    after: int = typer.Option(..., "--after", min=0, help="Resume after this event id (0: from the beginning)."),
) -> None:
    """Resume delivery after an event: the receiver gets every later event of its types again."""
    from hub.access import SYSTEM
    from hub.db import session_scope
    from hub.errors import HubError
    from hub.webhooks import get_endpoint
    from hub.webhooks import reset_cursor as reset

    engine = _engine()
    try:
        with session_scope(engine) as session:
            row = reset(session, principal=SYSTEM, endpoint=get_endpoint(session, principal=SYSTEM, endpoint_id=endpoint_id),
                        after=after)
            url = row.url
    except HubError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()
    console.print(f"webhook endpoint {endpoint_id} ({escape(url)}) resumes after event {after}")
