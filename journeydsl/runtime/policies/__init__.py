"""Contact policies: consent and the do-not-contact list, quiet hours, frequency caps across
journeys, channel reachability and fallback, the global holdout, message labels; the built-in
Vietnamese profile ``vn_decree_91``; the policy engine the runtime evaluates them with.

    from journeydsl.runtime.policies import load_policies

    policies = load_policies("policies.yaml")       # InputError lists mistakes with lines
    engine = Engine(journeys, ..., policies=policies)

Modules: :mod:`~journeydsl.runtime.policies.model` (the policy file's pydantic model and how
layers overlay), :mod:`~journeydsl.runtime.policies.loader` (files, ``extends``, built-in
profiles), :mod:`~journeydsl.runtime.policies.evaluator` (:class:`PolicyEngine`, evaluated at
send time), :mod:`~journeydsl.runtime.policies.checks` (what ``journeydsl check --policies``
adds). docs/policies.md is the reference.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "BUILTIN_PROFILES": "journeydsl.runtime.policies.loader",
    "Policies": "journeydsl.runtime.policies.model",
    "PolicyEngine": "journeydsl.runtime.policies.evaluator",
    "PolicySet": "journeydsl.runtime.policies.model",
    "Verdict": "journeydsl.runtime.policies.evaluator",
    "builtin_profile": "journeydsl.runtime.policies.loader",
    "holdout_bucket": "journeydsl.runtime.policies.evaluator",
    "load_policies": "journeydsl.runtime.policies.loader",
}

__all__ = [
    "BUILTIN_PROFILES",
    "Policies",
    "PolicyEngine",
    "PolicySet",
    "Verdict",
    "builtin_profile",
    "holdout_bucket",
    "load_policies",
]

if TYPE_CHECKING:
    from journeydsl.runtime.policies.evaluator import PolicyEngine, Verdict, holdout_bucket
    from journeydsl.runtime.policies.loader import (
        BUILTIN_PROFILES,
        builtin_profile,
        load_policies,
    )
    from journeydsl.runtime.policies.model import Policies, PolicySet


def __getattr__(name: str) -> Any:
    # Names are imported on first use: the engine needs the evaluator, not the file loader.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeydsl.runtime.policies' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
