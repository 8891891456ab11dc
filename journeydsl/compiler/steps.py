"""Walking a journey's source steps: every step in source order, the blocks a step holds, and
the id a step gets when the journey gives it none (its kind and its main name)."""

from __future__ import annotations

from collections.abc import Iterator

from journeydsl import ast as A

__all__ = ["_base_id", "_blocks", "_walk"]


def _walk(steps: A.Steps) -> Iterator[A.Step]:
    """Every step, in source (pre-)order."""
    for s in steps:
        yield s
        yield from (x for block in _blocks(s) for x in _walk(block))


def _blocks(s: A.Step) -> list[A.Steps]:
    match s:
        case A.WaitFor():
            return [s.then, s.on_timeout]
        case A.WaitFirst():
            return [*(b.steps for b in s.branches), s.on_timeout]
        case A.If():
            return [s.then, s.otherwise]
        case A.Switch():
            return [*(c.steps for c in s.cases), s.otherwise]
        case A.Split():
            return [*(a.steps for a in s.arms), *([s.holdout.steps] if s.holdout else [])]
        case A.Repeat():
            return [s.steps]
        case A.Ticket():  # ticket exits (accepted / not accepted)
            return [s.accepted or (), s.not_accepted or ()]
        case A.Parallel():
            return [b.steps for b in s.branches]
        case A.Decide():  # decide: a decision call
            return [b for b in (s.on_error, s.on_timeout) if b is not None]
        case A.Enter():  # enter: hand-off to another journey
            return [s.not_entered or ()]
        case A.Include():  # fragments: the steps the include expands to
            return [s.expanded]
        case A.ChooseOffer():  # choose: the offer catalogue
            return [s.none] if s.none is not None else []
        case A.Action():  # reward budgets: the granted and exhausted blocks
            return [b for b in (s.granted, s.exhausted) if b is not None]
        case A.During():  # (each handler is walked as the wait it is, its steps inside it)
            return [s.body, tuple(h.wait for h in s.handlers)]
    return []


def _base_id(s: A.Step) -> str:
    match s:
        case A.Send():
            return f"{s.channel.name}_{s.template.name}"
        case A.Wait():
            return "wait"
        case A.WaitUntil():
            return "wait_until"
        case A.WaitFor():
            t = s.target
            return f"wait_for_{t.name}" if isinstance(t, A.Name) else "wait_for_condition"
        case A.WaitFirst():
            return "wait_first"
        case A.If():
            return "if"
        case A.Switch():
            return "switch"
        case A.Split():
            return "split"
        case A.Repeat():
            return f"repeat_{s.counter.name}" if s.counter else "repeat"
        case A.Parallel():
            return "parallel"
        case A.During():
            return "during"
        case A.Ticket():
            return f"ticket_{s.queue.name}"
        case A.Update():
            return f"update_{s.attribute.name}"
        case A.Tag():
            return f"{'untag' if s.remove else 'tag'}_{s.tag.name}"
        case A.Action():
            return f"{s.kind}_{s.name.name}"
        case A.Set():
            return f"set_{s.var.name}"
        case A.Exit():
            return f"exit_{s.outcome.name}"
        case A.Break():
            return s.kind
        case A.ExitWith():
            return "exit"
        case A.Decide():  # decide: a decision call
            return f"decide_{s.var.name}"
        case A.Enter():  # enter: hand-off to another journey
            return f"enter_{s.journey.name}"
        case A.Include():  # fragments
            return f"include_{s.fragment.name}"
        case A.ChooseOffer():  # choose: the offer catalogue
            return f"choose_{s.var.name}"
    raise TypeError(s)  # pragma: no cover
