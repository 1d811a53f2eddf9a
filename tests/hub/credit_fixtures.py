"""Principals the credit tests act as."""

from __future__ import annotations

from hub.access import NATIONAL, Principal, Role

INSPECTOR = Principal(name="apikey:county-inspector", role=Role.INSPECTOR, region_code="370811")
VIEWER = Principal(name="apikey:viewer", role=Role.VIEWER, region_code="370811")
ADMIN = Principal(name="apikey:admin", role=Role.ADMIN, region_code=NATIONAL)
