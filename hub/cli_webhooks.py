"""``hub webhooks …``: register regional systems' webhook endpoints, see their state and log, deliver now (``hub.webhooks``)."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli_common import USAGE, cli_context, console, fail, when
from hub.errors import NotFound
from hub.webhooks import Attempt, create_endpoint, deliver_due, get_endpoint, list_deliveries, list_endpoints
from hub.webhooks import reset_cursor as reset

app = typer.Typer(
    help="Webhook endpoints of regional systems: list, create, deliveries, retry, reset-cursor.", no_args_is_help=True
)


def _no_endpoint(endpoint_id: int) -> NoReturn:
    fail(f"no webhook endpoint {endpoint_id}", suggestion="see `hub webhooks list`", code=USAGE)


@app.command("list")
def list_(failing: bool = typer.Option(False, "--failing", help="Only endpoints whose last attempt failed.")) -> None:
    """Endpoints with their cursor, state (ok / failing / disabled), next attempt and last error."""
    table = Table(
        "id",
        "url",
        "region",
        "types",
        "state",
        "cursor",
        "attempts",
        "next attempt",
        "last delivered",
        title="webhook endpoints" + (" (failing)" if failing else ""),
    )
    errors: list[str] = []
    with cli_context() as ctx, ctx.session() as session:
        rows = [r for r in list_endpoints(session, principal=ctx.principal) if r.failing or not failing]
        for r in rows:
            state = "disabled" if not r.enabled else "failing" if r.failing else "ok"
            table.add_row(
                str(r.id),
                escape(r.url),
                r.region_code,
                escape(", ".join(r.event_types)),
                f"[red]{state}[/]" if state == "failing" else state,
                str(r.cursor),
                str(r.attempts),
                when(r.next_attempt_at),
                when(r.last_delivered_at),
            )
            if r.last_error:
                errors.append(f"{r.id}: {r.last_error}")
    console.print(table if rows else "no webhook endpoints" + (" failing" if failing else ""))
    if errors:
        console.print("[bold]last errors[/]")
        for line in errors:
            console.print(line, markup=False, highlight=False)


@app.command()
def create(
    url: str = typer.Argument(..., help="The receiver's https:// URL."),
    event_type: list[str] = typer.Option(
        ["*"], "--type", "-t", help="An event type or prefix (clue.close, clue.*); repeatable."
    ),
    region: str = typer.Option(
        ..., "--region", help="Jurisdiction: only events within this GB/T 2260 region are sent."
    ),
    description: str = typer.Option("", "--description", help="Whose system it is, e.g. 兖州区人社局."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Send the whole outbox, not only new events."),
) -> None:
    """Register an endpoint; prints its signing secret once (only its encryption is stored)."""
    with cli_context() as ctx, ctx.session() as session:
        row, secret = create_endpoint(
            session,
            principal=ctx.principal,
            cipher=ctx.cipher,
            url=url,
            event_types=event_type,
            region_code=region,
            description=description,
            from_beginning=from_beginning,
            allow_local_http=ctx.settings.webhook_allow_local_http,
        )
        endpoint_id, cursor = row.id, row.cursor
    console.print(f"webhook endpoint {endpoint_id} → {escape(url)} (region {region}, after event {cursor})")
    console.print(f"signing secret (shown once): [bold]{secret}[/]")


@app.command()
def deliveries(
    endpoint_id: int = typer.Argument(..., help="The id shown by `hub webhooks list`."),
    limit: int = typer.Option(20, "--limit", min=1, help="The latest this many attempts."),
) -> None:
    """The latest delivery attempts to an endpoint: batch, status code, error and next attempt."""
    table = Table(
        "at",
        "webhook-id",
        "events",
        "attempt",
        "status",
        "error",
        "next attempt",
        title=f"deliveries to webhook endpoint {endpoint_id}",
    )
    with cli_context() as ctx, ctx.session() as session:
        try:
            rows = list_deliveries(session, principal=ctx.principal, endpoint_id=endpoint_id, limit=limit)
        except NotFound:
            _no_endpoint(endpoint_id)
        for r in rows:
            table.add_row(
                when(r.at),
                r.msg_id,
                f"{r.first_event_id}–{r.last_event_id} ({r.event_count})",
                str(r.attempt),
                str(r.status_code or "—"),
                escape(r.error or ""),
                when(r.next_attempt_at),
            )
    console.print(table if rows else f"no deliveries to webhook endpoint {endpoint_id} yet")


def _show(a: Attempt) -> None:
    """One line per POST, as it happens."""
    what = escape(f"events {a.first_event_id}–{a.last_event_id} ({a.event_count}) → endpoint {a.endpoint_id}")
    if a.status == "acknowledged":
        console.print(f"[green]acknowledged[/] {what}, webhook-id {a.msg_id}")
    elif a.status == "failing":
        console.print(
            f"[red]failing[/] {what}, attempt {a.attempt}: {escape(a.error or '')}; "
            f"next attempt {when(a.next_attempt_at)}"
        )
    else:
        console.print(f"[yellow]{a.status}[/] {what}: the endpoint was changed meanwhile")


@app.command()
def retry(endpoint_id: int = typer.Option(None, "--id", help="Only this endpoint (see `hub webhooks list`).")) -> None:
    """Deliver now, whatever the back-off, one line per POST; exit 1 when one failed."""
    with cli_context() as ctx:
        if endpoint_id is not None:
            with ctx.session() as session:
                try:
                    endpoint = get_endpoint(session, principal=ctx.principal, endpoint_id=endpoint_id)
                except NotFound:
                    _no_endpoint(endpoint_id)
                if not endpoint.enabled:
                    fail(f"webhook endpoint {endpoint_id} is disabled", suggestion="enable it first", code=USAGE)
        with console.status("delivering webhooks …"):
            report = deliver_due(
                ctx.engine,
                cipher=ctx.cipher,
                timeout=ctx.settings.webhook_timeout_seconds,
                batch_size=ctx.settings.webhook_batch_size,
                endpoint_ids=None if endpoint_id is None else [endpoint_id],
                ignore_schedule=True,
                progress=_show,
            )
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
    with cli_context() as ctx, ctx.session() as session:
        endpoint = get_endpoint(session, principal=ctx.principal, endpoint_id=endpoint_id)
        url = reset(session, principal=ctx.principal, endpoint=endpoint, after=after).url
    console.print(f"webhook endpoint {endpoint_id} ({escape(url)}) resumes after event {after}")
