"""What ``journeydsl check --policies FILE`` adds: checks of a compiled journey against the
contact policies it will run under (its per-journey override applied).

One small function per concern, run in the order of :data:`POLICY_CHECKS`:

* JD602 (warning) the worst-case number of messages a frequency cap counts, within the cap's
  window on one path of one instance, exceeds the cap;
* JD603 (error) a template the journey sends as marketing has a registered text (``text:`` in
  the templates catalog) that does not start with the required label, e.g. ``[QC]``;
* JD604 (warning) a send has no fallback and its channel's consent is commonly absent (the
  policy file's ``consent.expected`` share is below ``consent.commonly_absent_below``);
* JD605 (error) a transactional send whose template the policies call marketing content
  (``marketing_content.templates``): it would bypass marketing consent, caps and the holdout.
* JD611 (warning) a send's quiet hours and send windows on a channel of its chain (the
  journey's and the policies') never leave a time open together: the runtime suppresses it
  there (:func:`check_clock_rules`, after the others).

The checks against the top level's capacity limits (JD606 …) are in ``capacity_checks``; the
journey ids the policy file names, against every journey checked (JD610), in ``journey_names``.
A broken policy file is JD601, reported at its own line by :func:`load_for_check`.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from journeydsl import ir
from journeydsl.budget import window_budget
from journeydsl.catalog import Catalog
from journeydsl.confine import FileRefusedError, read_regular
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.runtime.policies.capacity_checks import CAPACITY_CHECKS
from journeydsl.runtime.policies.evaluator import PolicyEngine, describe_window
from journeydsl.runtime.policies.model import (
    ALL_CHANNELS,
    FrequencyCap,
    Policies,
    PolicySet,
    rule_names,
)
from journeydsl.yamlfile import YamlDocument
from journeydsl.zones import DEFAULT_TIMEZONE, zone

__all__ = ["POLICY_CHECKS", "check_journey", "load_for_check"]

Check = Callable[[ir.Journey, Catalog | None, PolicySet, Diagnostics], None]


def _sends(journey: ir.Journey) -> Iterator[ir.Send]:
    for node in journey.nodes.values():
        if isinstance(node, ir.Send):
            yield node


def _chain(send: ir.Send) -> tuple[str, ...]:
    return tuple(dict.fromkeys((send.channel, *send.fallback)))


def _counted_by(cap: FrequencyCap) -> Callable[[ir.Send], bool]:
    """A send counts for a cap when its category does and any channel of its chain does (the
    message may land on that one)."""

    def counted(send: ir.Send) -> bool:
        return (
            send.category in cap.categories
            and any(c in cap.channels for c in _chain(send))
            and (cap.tags is None or any(t in cap.tags for t in send.tags))
        )

    return counted


def check_caps(
    journey: ir.Journey, catalog: Catalog | None, policies: PolicySet, diags: Diagnostics
) -> None:
    """JD602: a path can send more messages within a cap's window than the cap allows."""
    names = rule_names("frequency_caps", policies.frequency_caps)
    for name, cap in zip(names, policies.frequency_caps, strict=True):
        if cap.journeys is not None and journey.id not in cap.journeys:
            continue  # (a cap of other journeys: this one's messages neither count nor wait)
        counted = _counted_by(cap)
        most, start = window_budget(journey, counted, cap.window)
        if most <= cap.max or start is None:
            continue
        channels = (
            "any channel" if set(ALL_CHANNELS) <= set(cap.channels) else "/".join(cap.channels)
        )
        diags.warning(
            "JD602",
            f"from this send, one path can make {most} {'/'.join(cap.categories)} messages on "
            f"{channels} within {describe_window(cap.window)}; the frequency cap '{name}' allows "
            f"{cap.max}, so the runtime will {'defer' if cap.action == 'defer' else 'drop'} the "
            "rest",
            journey.nodes[start].span,
            "space the sends with waits longer than the window, or send fewer; a send counts on "
            "every channel of its fallback chain",
        )


def check_labels(
    journey: ir.Journey, catalog: Catalog | None, policies: PolicySet, diags: Diagnostics
) -> None:
    """JD603: the template's registered text lacks the label its category and channel need."""
    if catalog is None:
        return
    names = rule_names("labels", policies.labels)
    for send in _sends(journey):
        spec = catalog.templates.get(send.template)
        if spec is None:
            continue
        for name, rule in zip(names, policies.labels, strict=True):
            if send.category not in rule.categories:
                continue
            for channel in _chain(send):
                if channel not in rule.channels or channel not in spec.channels:
                    continue
                text = spec.text(channel)
                if text is None or text.lstrip().startswith(rule.prefix):
                    continue
                source = f"; {rule.source}" if rule.source else ""
                diags.error(
                    "JD603",
                    f"template '{send.template}' goes out as {send.category} on {channel}, but "
                    f"its {channel} text does not start with the label '{rule.prefix}' "
                    f"(rule '{name}'{source})",
                    send.span,
                    f"start its text in the templates catalog with '{rule.prefix}'",
                )


def check_consent_fallback(
    journey: ir.Journey, catalog: Catalog | None, policies: PolicySet, diags: Diagnostics
) -> None:
    """JD604: no fallback, on a channel most customers have not consented to."""
    consent = policies.consent
    for send in _sends(journey):
        chain = _chain(send)
        if len(chain) > 1:
            continue
        share = consent.expected.get(send.channel)  # type: ignore[call-overload]
        if share is None or share >= consent.commonly_absent_below:
            continue
        diags.warning(
            "JD604",
            f"this send has no fallback, and only {share:.0%} of customers are expected to "
            f"consent to {send.channel} (consent.expected); the others get nothing",
            send.span,
            f"add a fallback: `fallback sms` after the send (the channels tried after "
            f"{send.channel}), or send on another channel",
        )


def check_marketing_content(
    journey: ir.Journey, catalog: Catalog | None, policies: PolicySet, diags: Diagnostics
) -> None:
    """JD605: marketing content through a transactional template."""
    patterns = policies.marketing_content.templates
    for send in _sends(journey):
        if send.category != "transactional":
            continue
        hit = next((p for p in patterns if fnmatch.fnmatchcase(send.template, p)), None)
        if hit is None:
            continue
        diags.error(
            "JD605",
            f"template '{send.template}' is sent as transactional, but the policies call it "
            f"marketing content (marketing_content.templates: '{hit}'): it would bypass "
            "marketing consent, quiet hours, frequency caps and the holdout",
            send.span,
            "make the template marketing in the templates catalog, or correct the pattern",
        )


POLICY_CHECKS: tuple[Check, ...] = (
    check_caps,
    check_labels,
    check_consent_fallback,
    check_marketing_content,
)


#: The instant :func:`check_clock_rules` looks from (a Monday at midnight, local time).
_MONDAY = datetime(2026, 1, 5)


def check_clock_rules(journey: ir.Journey, engine: PolicyEngine, diags: Diagnostics) -> None:
    """JD611: a send whose quiet hours and send windows (the journey's and the policies') on a
    channel of its chain never leave a time open together: the runtime suppresses it there."""
    local = _MONDAY.replace(tzinfo=zone(journey.timezone or DEFAULT_TIMEZONE))
    for send in _sends(journey):
        for channel in _chain(send):
            never = engine.never_open(journey, channel, send.category, local)
            if never is None:
                continue
            what = never.reason.removeprefix("never sent: ")
            diags.warning(
                "JD611",
                f"this send can never go out on {channel}: {what}; the runtime suppresses it there",
                send.span,
                "make the send windows overlap, outside the quiet hours, or give the channel one "
                "window",
            )


def check_journey(
    journey: ir.Journey,
    catalog: Catalog | None,
    policies: Policies,
    spans: Mapping[str, Span] | None = None,
) -> list[Diagnostic]:
    """Every policy diagnostic of ``journey`` (its per-journey override applied), by position;
    ``spans`` are where the policy file writes its limits (``capacity_checks.limit_spans``)."""
    engine = PolicyEngine(policies)
    effective = engine.rules(journey.id).policies
    diags = Diagnostics()
    for check in POLICY_CHECKS:
        check(journey, catalog, effective, diags)
    check_clock_rules(journey, engine, diags)
    for capacity in CAPACITY_CHECKS:  # (the top level's limits: queues, throughput, entry rates)
        capacity(journey, policies, diags, spans or {})
    return diags.sorted()


def load_for_check(
    path: str | Path,
    *,
    root: str | Path | None = None,
    read: list[YamlDocument] | None = None,
) -> tuple[Policies | None, list[Diagnostic], dict[str, str]]:
    """The policy file for ``check``: the policies, or JD601 diagnostics at the lines of the
    mistakes, and the text of the files they are in (for caret excerpts). The files it names are
    read only from inside ``root``; ``read`` gets each policy file parsed (see
    :func:`~journeydsl.runtime.policies.load_policies`)."""
    from journeydsl.runtime.policies.loader import MAX_POLICY_BYTES, InputError, load_policies

    def excerpt(file: str) -> None:
        # Only a file the loader would read: a refused one is never shown.
        with contextlib.suppress(OSError, UnicodeDecodeError, FileRefusedError):
            sources[file] = read_regular(Path(file), MAX_POLICY_BYTES).decode("utf-8")

    sources: dict[str, str] = {}
    excerpt(str(path))
    try:
        return load_policies(path, root=root, read=read), [], sources
    except InputError as exc:
        diags = Diagnostics()
        for e in exc.errors:
            if e.file not in sources:
                excerpt(e.file)
            diags.error("JD601", e.message, Span.point(e.file, e.line, e.column))
        return None, diags.sorted(), sources
