"""Test-wide settings: the engine's structured logs are kept to warnings and above."""

from __future__ import annotations

import logging

import structlog

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
