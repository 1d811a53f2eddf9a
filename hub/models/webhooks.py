"""Webhook endpoints of regional systems, and the log of every delivery attempt to them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, RegionScoped, created_at_column

#: Event ids (``events.id`` is a BIGINT on PostgreSQL).
EventId = BigInteger()


class WebhookEndpoint(IdMixin, RegionScoped, Base):
    """A URL that receives the outbox's events of one jurisdiction, in batches, signed (Standard Webhooks).

    ``region_code`` is the endpoint's jurisdiction: only events within it are sent, and only an admin
    whose own jurisdiction covers it sees or changes the endpoint. ``cursor`` is the last event id the
    receiver acknowledged; ``pending_*`` describe the batch being delivered (same events, same
    ``webhook-id`` on every retry, until a 2xx answer moves the cursor past it).
    """

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    event_types: Mapped[list[Any]]  # names ("clue.close") or prefixes ("clue.*"); ["*"] = every type
    secret_enc: Mapped[str] = mapped_column(Text)  # Fernet token of the whsec_… secret; shown once, never returned
    enabled: Mapped[bool] = mapped_column(default=True)
    cursor: Mapped[int] = mapped_column(EventId, default=0, server_default="0")
    pending_msg_id: Mapped[str | None] = mapped_column(String(40))
    pending_until: Mapped[int | None] = mapped_column(EventId)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # failed attempts in a row
    next_attempt_at: Mapped[dt.datetime | None]
    lease_until: Mapped[dt.datetime | None]  # a worker's claim (see hub.webhooks)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None]
    last_delivered_at: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()

    @property
    def failing(self) -> bool:
        return self.attempts > 0


class WebhookDelivery(IdMixin, Base):
    """One attempt to deliver a batch: its answer (status code, masked error and excerpt) and what follows."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),)

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    msg_id: Mapped[str] = mapped_column(String(40))  # the webhook-id header: the same on every retry of a batch
    first_event_id: Mapped[int] = mapped_column(EventId)
    last_event_id: Mapped[int] = mapped_column(EventId)
    event_count: Mapped[int]
    attempt: Mapped[int]  # 1 for the first try of the batch
    at: Mapped[dt.datetime]
    status_code: Mapped[int | None]
    acknowledged: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)  # the receiver's words (masked), or why it could not be reached
    response_excerpt: Mapped[str | None] = mapped_column(String(300))  # masked, at most 200 characters
    duration_ms: Mapped[int | None]
    next_attempt_at: Mapped[dt.datetime | None]
