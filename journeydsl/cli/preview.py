"""``journeydsl preview``: a template's text as one customer would read it, with the params the
journey's send steps give, before launch.

The journey is simulated as ``explain`` does (recorded events, or a synthetic population), and
every send of the template to the customer is rendered on its channel: the template's ``body``
for that channel (else its registered ``text``) with each ``{param}`` filled in. So the ``[QC]``
label of a marketing SMS and the params' values can be read before the journey goes live.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.cli.common import Command, closest, fail_usage
from journeydsl.cli.customers import refuse_unknown_customer
from journeydsl.cli.simulate import add_input_arguments, build
from journeydsl.exitcodes import ExitCode
from journeydsl.money import money_text

if TYPE_CHECKING:
    from journeydsl.expr.catalog import TemplateSpec

__all__ = ["COMMANDS", "add_preview_arguments", "cmd_preview", "render_body"]


def add_preview_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl preview``."""
    add_input_arguments(
        p,
        "run under this contact-policy file (docs/policies.md): a send the policies withhold "
        "from the customer is shown as suppressed, with the reason",
    )
    p.add_argument(
        "template", metavar="TEMPLATE", help="the template to render, from the journey's catalog"
    )
    p.add_argument(
        "--customer", required=True, metavar="ID", help="the customer whose sends are rendered"
    )


def _value_text(value: Any) -> str:
    """A param's value as the message shows it: money as ``1,000,000 VND``."""
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return money_text(Decimal(str(value["amount"])), str(value["currency"]))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_body(body: str, params: dict[str, Any]) -> str:
    """``body`` with each ``{param}`` replaced by its value (``{{`` and ``}}`` are braces)."""
    from journeydsl.catalog import PLACEHOLDER

    def fill(m: Any) -> str:
        whole: str = m.group(0)
        if m.group(1) is None:
            return whole[0]
        name = m.group(1)
        return _value_text(params[name]) if name in params else whole

    return PLACEHOLDER.sub(fill, body)


def _template(args: argparse.Namespace, err: TextIO) -> TemplateSpec | int:
    """The template ``args.template`` of the journey's catalog; an exit code when the journey
    does not compile (diagnostics on ``err``)."""
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import render_text

    if not Path(args.journey).is_file():
        fail_usage(f"{args.journey}: no such file")
    result = compile_file(Path(args.journey), root=args.root)
    if not result.ok or result.journey is None or result.catalog is None:
        print(render_text(result.diagnostics, result.sources), file=err)
        return ExitCode.ERRORS
    templates = result.catalog.templates
    spec = templates.get(args.template)
    if spec is None:
        best = closest(args.template, templates)
        fail_usage(
            f"no template '{args.template}' in the journey's catalog"
            + (f" — did you mean '{best}'?" if best else f"; it has {', '.join(templates)}")
        )
    return spec


def cmd_preview(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl preview``: exit 1 when the customer is unknown or got no such message."""
    spec = _template(args, err)
    if isinstance(spec, int):
        return spec
    run = build(args, err)
    if isinstance(run, int):
        return run
    from journeydsl.simulate.driver import SimulationResult

    assert isinstance(run.result, SimulationResult)  # preview has no --workers or --compare
    if stop := refuse_unknown_customer(args, run.result.customers(), err):
        return stop
    sends = [
        a
        for a in run.result.actions
        if a["customer_id"] == args.customer and a.get("template") == spec.name
    ]
    if not sends:
        steps = sorted(
            n.id for n in run.journey.nodes.values() if getattr(n, "template", None) == spec.name
        )
        print(
            f"journeydsl: error: customer '{args.customer}' got no {spec.name} in this "
            f"simulation; the steps that send it: {', '.join(steps) or 'none'}",
            file=err,
        )
        return ExitCode.ERRORS
    for action in sends:
        out.write(_render_send(spec, action))
    return ExitCode.OK


def _render_send(spec: TemplateSpec, action: dict[str, Any]) -> str:
    channel = action.get("channel", "?")
    params: dict[str, Any] = action.get("params") or {}
    head = f"{action['at']}  {spec.name} on {channel} ({spec.category}), step {action['node']}"
    if action["kind"] == "suppressed":
        head += f" — suppressed: {action.get('reason', '?')}"
    lines = [head]
    if params:
        shown = ", ".join(f"{k} = {_value_text(v)}" for k, v in params.items())
        lines.append(f"  params: {shown}")
    body = spec.body(channel)
    if body is None:
        lines.append(f"  (the catalog gives {spec.name} no body or text on {channel})")
    else:
        lines.extend("  | " + line for line in render_body(body, params).splitlines())
    return "\n".join(lines) + "\n\n"


#: The command this module defines.
COMMANDS = {"preview": Command(add_preview_arguments, cmd_preview)}
