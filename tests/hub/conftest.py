"""Fixtures of the hub's services' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub import holidays, workdays


@pytest.fixture
def package_until_2026(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The holiday package as if its data ended with 2026, whatever version is installed, and no year
    loaded before or after the test (the loaded schedules are process-wide)."""
    monkeypatch.setattr(workdays, "covered_years", lambda: range(2004, 2027))
    holidays.forget()
    yield
    holidays.forget()
    monkeypatch.undo()
    workdays.is_workday.cache_clear()
    workdays._year_prefix.cache_clear()
