"""Logging without personal data: every record is masked before a handler writes it.

个人信息保护法 第五十一条 asks for technical measures against leaks; a log line is read by more people
than the data it mentions (operators, a log shipper, a support ticket). ``MaskingFilter`` rewrites
each record's message (``record.msg % record.args``), its exception text and its stack with
``hub.identifiers.mask_text``, so that a phone, an ID number or a bank card that reaches a log call —
in a user's input echoed by an error, an upstream's error text, an exception message — is masked.
SQL parameters never reach a log at all (``hub.db`` makes every engine with ``hide_parameters``), and
tracebacks are the standard ones: source lines and messages, never the values of local variables.

``setup_logging`` is the hub's logging setup (CLI, server, workers); ``install_masking`` adds the
filter to the root logger's handlers when someone else configured logging (dramatiq's worker
processes, pytest's ``caplog``).
"""

from __future__ import annotations

import logging

from hub.identifiers import mask_text

__all__ = ["MaskingFilter", "install_masking", "setup_logging"]

_MASKED = "_hub_masked"


class MaskingFilter(logging.Filter):
    """Masks personal data in a record's message, exception and stack text (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MASKED, False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = mask_text(message), None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatter.format uses exc_text when set: format it once here, masked.
            # and drop exc_info, so that no handler formats the unmasked exception again.
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        setattr(record, _MASKED, True)
        return True


def install_masking(logger: logging.Logger | None = None) -> MaskingFilter:
    """Add one ``MaskingFilter`` to every handler of ``logger`` (default: the root logger); idempotent.

    A handler filter sees every record the handler writes, including those propagated from child
    loggers (a logger's own filters would not)."""
    target = logger or logging.getLogger()
    mask = (
        next((f for h in target.handlers for f in h.filters if isinstance(f, MaskingFilter)), None) or MaskingFilter()
    )
    for handler in target.handlers:
        if mask not in handler.filters:
            handler.addFilter(mask)
    return mask


def setup_logging(level: str) -> None:
    """The hub's logging: one line per record on stderr at ``level``, personal data masked."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per upstream request drowns what matters (sync summaries, warnings).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    install_masking()
