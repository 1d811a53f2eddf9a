"""Module that ``dramatiq`` imports in each worker process: sets the broker from HUB_BROKER_URL."""

from __future__ import annotations

from hub.broker import setup_broker
from hub.logs import install_masking
from hub.settings import get_settings

install_masking()  # dramatiq configured the worker's logging before importing this module

broker = setup_broker(get_settings().broker_url)
