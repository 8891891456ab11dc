"""journeydsl: credit-card customer journeys as code.

The public API, for bank backends that embed the runtime::

    import journeydsl

    result = journeydsl.compile_file("onboarding.journey")    # diagnostics + IR
    engine = journeydsl.Engine([result.journey], events=..., profiles=..., state=..., clock=...,
                               channels={"email": my_email_gateway, ...})
    engine.ingest({"customer_id": "c-001", "type": "card_issued", "at": "...", "data": {...}})
    engine.tick()

Names are imported on first use, so ``import journeydsl`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → module that defines it
_EXPORTS: dict[str, str] = {
    # compiling
    "compile_file": "journeydsl.compiler",
    "compile_source": "journeydsl.compiler",
    "CompileResult": "journeydsl.compiler",
    "Diagnostic": "journeydsl.diagnostics",
    "Severity": "journeydsl.diagnostics",
    "Span": "journeydsl.diagnostics",
    "Money": "journeydsl.money",
    # the runtime
    "Engine": "journeydsl.runtime.engine",
    "IngestResult": "journeydsl.runtime.engine",
    "RetryPolicy": "journeydsl.runtime.engine",
    "ActionHandler": "journeydsl.runtime.protocols",
    "Channel": "journeydsl.runtime.protocols",
    "Clock": "journeydsl.runtime.protocols",
    "CommitHooks": "journeydsl.runtime.protocols",
    "Contact": "journeydsl.runtime.protocols",
    "ContactHistory": "journeydsl.runtime.protocols",
    "DeliveryResult": "journeydsl.runtime.protocols",
    "DeliveryStatus": "journeydsl.runtime.protocols",
    "EventRecord": "journeydsl.runtime.protocols",
    "EventStore": "journeydsl.runtime.protocols",
    "GroupCommit": "journeydsl.runtime.protocols",
    "Message": "journeydsl.runtime.protocols",
    "Profile": "journeydsl.runtime.protocols",
    "ProfileStore": "journeydsl.runtime.protocols",
    "Quarantine": "journeydsl.runtime.protocols",
    "QuarantinedEvent": "journeydsl.runtime.protocols",
    "SinkError": "journeydsl.runtime.protocols",
    "StateStore": "journeydsl.runtime.protocols",
    "Ticket": "journeydsl.runtime.protocols",
    "TicketSink": "journeydsl.runtime.protocols",
    "MemoryEventStore": "journeydsl.runtime.stores.memory",
    "MemoryProfileStore": "journeydsl.runtime.stores.memory",
    "MemoryStateStore": "journeydsl.runtime.stores.memory",
    # decision functions (decide steps)
    "DecisionCall": "journeydsl.runtime.decide",
    "DecisionFunction": "journeydsl.runtime.decide",
    "immediate": "journeydsl.runtime.decide",
    # reward budgets
    "BudgetLedger": "journeydsl.runtime.budgets",
    "BudgetState": "journeydsl.runtime.budgets",
    "SQLiteBudgets": "journeydsl.runtime.stores.sqlite_budgets",
    # workers sharing a PostgreSQL database
    "Worker": "journeydsl.runtime.worker",
    "WorkerHealth": "journeydsl.runtime.worker",
    "SystemClock": "journeydsl.runtime.worker",
    # contact policies
    "Policies": "journeydsl.runtime.policies",
    "PolicyEngine": "journeydsl.runtime.policies",
    "load_policies": "journeydsl.runtime.policies",
}

__all__ = [
    "ActionHandler",
    "BudgetLedger",
    "BudgetState",
    "Channel",
    "Clock",
    "CommitHooks",
    "CompileResult",
    "Contact",
    "ContactHistory",
    "DecisionCall",
    "DecisionFunction",
    "DeliveryResult",
    "DeliveryStatus",
    "Diagnostic",
    "Engine",
    "EventRecord",
    "EventStore",
    "GroupCommit",
    "IngestResult",
    "MemoryEventStore",
    "MemoryProfileStore",
    "MemoryStateStore",
    "Message",
    "Money",
    "Policies",
    "PolicyEngine",
    "Profile",
    "ProfileStore",
    "Quarantine",
    "QuarantinedEvent",
    "RetryPolicy",
    "SQLiteBudgets",
    "Severity",
    "SinkError",
    "Span",
    "StateStore",
    "SystemClock",
    "Ticket",
    "TicketSink",
    "Worker",
    "WorkerHealth",
    "__version__",
    "compile_file",
    "compile_source",
    "immediate",
    "load_policies",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeydsl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from journeydsl.compiler import CompileResult, compile_file, compile_source
    from journeydsl.diagnostics import Diagnostic, Severity, Span
    from journeydsl.money import Money
    from journeydsl.runtime.budgets import BudgetLedger, BudgetState
    from journeydsl.runtime.decide import DecisionCall, DecisionFunction, immediate
    from journeydsl.runtime.engine import Engine, IngestResult, RetryPolicy
    from journeydsl.runtime.policies import Policies, PolicyEngine, load_policies
    from journeydsl.runtime.protocols import (
        ActionHandler,
        Channel,
        Clock,
        CommitHooks,
        Contact,
        ContactHistory,
        DeliveryResult,
        DeliveryStatus,
        EventRecord,
        EventStore,
        GroupCommit,
        Message,
        Profile,
        ProfileStore,
        Quarantine,
        QuarantinedEvent,
        SinkError,
        StateStore,
        Ticket,
        TicketSink,
    )
    from journeydsl.runtime.stores.memory import (
        MemoryEventStore,
        MemoryProfileStore,
        MemoryStateStore,
    )
    from journeydsl.runtime.stores.sqlite_budgets import SQLiteBudgets
