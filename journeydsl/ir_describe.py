"""What a step of the IR does, in a few words: the text reports and graphs show for a node
(:func:`journeydsl.ir.describe` calls it)."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.calendars import describe_days

__all__ = ["describe"]


def describe(node: ir.Node, *, full: bool = False) -> str:
    """What a step does, in a few words (reports, graphs). ``full`` adds a wait's timeout, a set's
    value and the internal steps of a repeat."""
    match node:
        case ir.Send():
            return f"send {node.channel} {node.template}"
        case ir.Wait(days=days) if days:
            return f"wait until next {describe_days(days)} {node.value.source}"
        case ir.Wait():
            return f"wait {'until ' if node.mode != 'duration' else ''}{node.value.source}"
        case ir.WaitFor():
            what = node.event or (node.condition.source if node.condition else "?")
            timeout = f" {node.timeout_mode} {node.timeout.source}" if full and node.timeout else ""
            return f"wait for {what}{timeout}"
        case ir.WaitFirst():
            what = ", ".join(b.event or "a condition" for b in node.branches)
            timeout = f" {node.timeout_mode} {node.timeout.source}" if full and node.timeout else ""
            return f"wait first of {what}{timeout}"
        case ir.Branch():
            return f"if {node.cond.source}"
        case ir.Switch():
            return f"switch {node.subject.source}"
        case ir.Split():
            return "split per entry" if node.draw == "entry" else "split"
        case ir.RepeatStart():
            return f"repeat ({node.counter})"
        case ir.RepeatCheck() if full:
            until = f" until {node.until.source}" if node.until else ""
            return f"{node.counter} <= {node.max}{until}"
        case ir.RepeatNext() if full:
            return f"{node.counter} += 1"
        case ir.Ticket(waits=True) if full:
            return f"ticket {node.queue} (waits for the queue's decision)"
        case ir.Ticket():
            return f"ticket {node.queue}"
        case ir.Update():
            return f"update {node.attribute}"
        case ir.Tag():
            return f"{'untag' if node.remove else 'tag'} {node.tag}"
        case ir.Action():
            return f"{node.action} {node.name}"
        case ir.Set():
            return f"set {node.var} = {node.value.source}" if full else f"set {node.var}"
        case ir.Exit():
            return f"exit {node.outcome}"
        case ir.Parallel() if node.handlers:  # during (interrupting handlers)
            return f"during ({', '.join(node.handlers)})"
        case ir.Parallel():
            return f"parallel {node.join} ({len(node.branches)} branches)"
        case ir.Join():
            return f"join {node.join}"
        case ir.Decide():
            return f"decide {node.var} = {node.function}(…)"
        case ir.Enter():  # enter: hand-off to another journey
            return f"enter {node.journey}"
    if (own := getattr(node, "describe", None)) is not None:  # choose (ir_offers.py)
        return str(own())
    return str(node.kind)
