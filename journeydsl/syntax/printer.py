"""The printer: an AST back to canonical text, in either spelling.

``print_dsl`` and ``print_yaml`` are the inverse of the DSL parser and the YAML loader: printing a
journey and reading the text back gives an *equal* AST (spans and comments aside). That is what
``journeydsl fmt`` and the YAML ↔ DSL conversion rely on. ``print_expr`` prints one expression with
the fewest parentheses the grammar needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import yaml

from journeydsl.ast import (
    Action,
    Arm,
    Binary,
    Break,
    Case,
    ChooseOffer,
    Decide,
    During,
    DuringHandler,
    Enter,
    Entry,
    Exit,
    ExitWith,
    Expr,
    FirstBranch,
    Ident,
    If,
    Include,
    Journey,
    Parallel,
    Param,
    Repeat,
    Schedule,
    Send,
    Set,
    Split,
    Step,
    Steps,
    Switch,
    Tag,
    Ticket,
    TimeLit,
    Update,
    Wait,
    WaitFirst,
    WaitFor,
    WaitUntil,
)
from journeydsl.syntax._choose import choose_dsl, choose_yaml
from journeydsl.syntax._decide import decide_dsl, decide_yaml
from journeydsl.syntax._enter import enter_dsl, enter_yaml
from journeydsl.syntax._fragment import include_dsl, include_yaml
from journeydsl.syntax._print_expr import (
    BINARY_PREC,
    expr_text,
    print_expr,
    quote,
    reentry_text,
)
from journeydsl.syntax._rewards import (
    budget_tail,
    reward_blocks,
    reward_budget_yaml,
    without_blocks,
)
from journeydsl.syntax._yaml_dumper import YamlDumper as _Dumper

__all__ = ["print_dsl", "print_expr", "print_schedule", "print_yaml"]

#: Lines longer than this are broken where the layout allows it.
WIDTH = 100
_INDENT = "  "

# --------------------------------------------------------------------------- DSL


def print_schedule(at: TimeLit, schedule: Schedule | None) -> str:
    """A segment's schedule in DSL words (the YAML ``schedule:`` key holds the same text)."""
    if schedule is None:
        return f"daily at {at.text}"
    match schedule.kind:
        case "weekly":
            days = f"weekly on {_names(schedule.days)}"
        case "monthly":
            day = "last day" if schedule.day == "last" else schedule.day
            days = f"monthly on {day}"
        case "every":
            days = f"every {schedule.every} days"
        case "anniversary":
            assert schedule.of is not None, "an anniversary needs a date"
            days = f"{schedule.period} on anniversary of {print_expr(schedule.of)}"
        case _:
            days = "daily"
    text = f"{days} at {at.text}"
    if schedule.start is not None:
        text += f" from {schedule.start.text}"
    if schedule.end is not None:
        text += f" until {schedule.end.text}"
    return text


def print_dsl(journey: Journey) -> str:
    """``journey`` as canonical ``.journey`` text (comments are not kept: ASTs have none)."""
    return _DslPrinter().journey(journey)


def _names(idents: tuple[Ident, ...], sep: str = ", ") -> str:
    return sep.join(i.name for i in idents)


def _params_inline(params: tuple[Param, ...]) -> str:
    return "{ " + ", ".join(f"{p.name.name}: {print_expr(p.value)}" for p in params) + " }"


def _is_compound(step: Step) -> bool:
    if isinstance(step, Ticket):  # ticket exits (accepted / not accepted)
        return step.waits
    return isinstance(step, WaitFor | WaitFirst | If | Switch | Split | Repeat | Parallel | During)


class _DslPrinter:
    """Accumulates the lines of one journey."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)

    def journey(self, j: Journey) -> str:
        self.emit(0, f"journey {j.name.name} version {j.version}")
        if j.title is not None:
            self.emit(0, f"title {quote(j.title)}")
        if j.events_catalog is not None:
            self.emit(0, f"uses events {quote(j.events_catalog.value)}")
        if j.templates_catalog is not None:
            self.emit(0, f"uses templates {quote(j.templates_catalog.value)}")
        if j.timezone is not None:
            self.emit(0, f"timezone {quote(j.timezone.value)}")
        if j.outcomes:
            self.emit(0, f"outcomes {_names(j.outcomes)}")
        if j.stale_after is not None:
            self.emit(0, f"stale after {print_expr(j.stale_after)}")
        for p in j.params:
            self.emit(0, f"param {p.name.name} = {print_expr(p.value)}")
        self.lines.append("")
        self.entry(j.entry)
        if j.quiet_hours or j.fallback or j.send_windows:
            self.lines.append("")
        for qh in j.quiet_hours:
            self.emit(0, f"quiet hours {qh.start.text} to {qh.end.text} for {_names(qh.channels)}")
        for w in j.send_windows:
            self.emit(
                0,
                f"send window {_names(w.days)} {w.start.text} to {w.end.text} "
                f"for {_names(w.channels)}",
            )
        for chain in j.fallback:
            self.emit(0, f"fallback {_names(chain.channels, ' -> ')}")
        if j.goals:
            self.lines.append("")
        for goal in j.goals:
            text = f"goal {goal.outcome.name} when {print_expr(goal.target)}"
            if goal.where is not None:
                text += f" where {print_expr(goal.where)}"
            if goal.steps:
                self.block(text + " then", goal.steps, 0)
            else:
                self.emit(0, text)
        if j.steps:
            self.lines.append("")
            self.steps(j.steps, 0)
        return "\n".join(self.lines) + "\n"

    def entry(self, entry: Entry) -> None:
        if entry.kind == "event":
            assert entry.event is not None, "an event entry needs an event"
            head = f"entry on {entry.event.name}"
            if entry.where is not None:
                head += f" where {print_expr(entry.where)}"
            self.emit(0, head)
        elif entry.kind == "segment":
            assert entry.condition is not None, "a segment entry needs a condition"
            assert entry.at is not None, "a segment entry needs a time of day"
            self.emit(0, f"entry segment {print_expr(entry.condition)}")
            self.emit(1, print_schedule(entry.at, entry.schedule))
        elif entry.kind == "when":
            assert entry.condition is not None, "an entry on change needs a condition"
            self.emit(0, f"entry when {print_expr(entry.condition)}")
        else:  # (hand-off: the values a manual entry expects)
            head = "entry manual with" if entry.inputs else "entry manual"
            self.with_params(head, entry.inputs, 0)
        if entry.key is not None:
            self.emit(1, f"key {print_expr(entry.key)}")
        self.emit(1, f"reentry {reentry_text(entry.reentry)}")

    # ------------------------------------------------------------------ steps

    def steps(self, steps: Steps, depth: int) -> None:
        for step in steps:
            self.step(step, depth)

    def chain(self, depth: int, segments: list[tuple[str, Steps]]) -> None:
        """``head1 { … } head2 { … }``: blocks that share their closing and opening lines.

        An empty block prints as ``{}`` and the next head continues on its line.
        """
        pending = ""
        for head, steps in segments:
            opener = f"{pending} {head}" if pending else head
            if steps:
                self.emit(depth, opener + " {")
                self.steps(steps, depth + 1)
                pending = "}"
            else:
                pending = opener + " {}"
        self.emit(depth, pending)

    def block(self, head: str, steps: Steps, depth: int) -> None:
        """``head { steps }`` over several lines (``head {}`` when empty)."""
        self.chain(depth, [(head, steps)])

    def step(self, step: Step, depth: int) -> None:
        label = f"{step.id.name}: " if step.id is not None else ""
        match step:
            case If():
                self.if_(step, depth, label)
            case WaitFor():
                self.wait_for(step, depth, label)
            case WaitFirst():
                self.wait_first(step, depth, label)
            case Switch():
                self.switch(step, depth, label)
            case Split():
                self.split(step, depth, label)
            case Parallel():  # parallel (concurrent paths)
                self.emit(depth, f"{label}parallel {step.join} {{")
                for branch in step.branches:
                    self.block("branch", branch.steps, depth + 1)
                self.emit(depth, "}")
            case During():  # during (interrupting handlers)
                heads = [(f"{label}during", step.body)]
                self.chain(depth, heads + [(_during_head(h), h.wait.then) for h in step.handlers])
            case Repeat():
                head = "repeat"
                if step.counter is not None:
                    head += f" as {step.counter.name}"
                head += f" max {step.max}"
                if step.until is not None:
                    head += f" until {print_expr(step.until)}"
                self.block(label + head, step.steps, depth)
            case Send():
                head = f"send {step.channel.name} {step.template.name}"
                if step.category is not None:
                    head += f" {step.category.name}"
                if step.tags:
                    head += f" tags [{_names(step.tags)}]"
                tail = ""
                if step.fallback == ():
                    tail = " fallback none"
                elif step.fallback is not None:
                    tail = f" fallback {_names(step.fallback, ' -> ')}"
                self.with_params(label + head, step.params, depth, tail)
            case Ticket() if step.waits:  # ticket exits (accepted / not accepted)
                self.ticket_exits(step, depth)
            case Ticket():
                head = label + f"ticket {step.queue.name}"
                priority = "" if step.priority is None else f"priority {print_expr(step.priority)}"
                one_line = " ".join(filter(None, [head, priority]))
                if step.payload:
                    one_line += " " + _params_inline(step.payload)
                if len(_INDENT * depth + one_line) <= WIDTH:
                    self.emit(depth, one_line)
                elif not priority:
                    self.with_params(head, step.payload, depth)
                else:
                    # Too long for one line: the priority, then the payload, each on its own.
                    self.emit(depth, head)
                    self.emit(depth + 1, priority)
                    if step.payload:
                        self.with_params("", step.payload, depth + 1)
            case Action() if step.granted is not None or step.exhausted is not None:
                self.exits(without_blocks(step), reward_blocks(step), depth)  # reward budgets
            case Action():
                head = label + f"{step.kind} {step.name.name}"
                self.with_params(head, step.params, depth, budget_tail(step))
            case Decide() | ChooseOffer():  # decide, choose: decision calls and offers
                segments = (
                    decide_dsl(step, label) if isinstance(step, Decide) else choose_dsl(step, label)
                )
                if isinstance(segments, str):
                    self.emit(depth, segments)
                else:
                    self.chain(depth, segments)
            case Enter():  # enter: hand-off to another journey
                enter_dsl(self, step, depth, label)
            case Include():  # fragments: the include as written (never inlined)
                self.emit(depth, include_dsl(step, label))
            case _:
                self.emit(depth, label + _simple(step))

    # ---------------------------------------------------------------- ticket exits

    def ticket_exits(self, step: Ticket, depth: int) -> None:
        """A ticket with its ``accepted { … } not accepted { … }`` blocks after its last line
        (the label, if any, is printed with the ticket)."""
        blocks = [("accepted", step.accepted), ("not accepted", step.not_accepted)]
        self.exits(replace(step, accepted=None, not_accepted=None), blocks, depth)

    def exits(self, bare: Step, blocks: list[tuple[str, Steps | None]], depth: int) -> None:
        """``bare`` (a step printed without its exit blocks), then its ``blocks`` after its last
        line: ``… accepted { … } not accepted { … }``, ``… granted { … } exhausted { … }``."""
        inner = _DslPrinter()
        inner.step(bare, depth)
        *lines, last = inner.lines
        self.lines.extend(lines)
        at = (len(last) - len(last.lstrip())) // len(_INDENT)
        head = last.strip()
        segments: list[tuple[str, Steps]] = []
        for word, steps in blocks:
            if steps is not None:
                segments.append((f"{head} {word}" if not segments else word, steps))
        self.chain(at, segments)

    def with_params(self, head: str, params: tuple[Param, ...], depth: int, tail: str = "") -> None:
        """``head { a: x, b: y }tail`` on one line when it fits, else one param a line."""
        if not params:
            self.emit(depth, head + tail)
            return
        opener = f"{head} {{" if head else "{"
        line = f"{opener[:-1]}{_params_inline(params)}{tail}"
        if len(_INDENT * depth + line) <= WIDTH:
            self.emit(depth, line)
            return
        self.emit(depth, opener)
        for p in params:
            self.emit(depth + 1, f"{p.name.name}: {print_expr(p.value)},")
        self.emit(depth, "}" + tail)

    def if_(self, step: If, depth: int, label: str) -> None:
        segments: list[tuple[str, Steps]] = []
        head = f"{label}if"
        node = step
        while True:
            prefix = f"{head} " if not segments else f"}} {head} "
            cond = self.condition(node.cond, depth, len(prefix))
            segments.append((f"{head} {cond}", node.then))
            rest = node.otherwise
            if len(rest) == 1 and isinstance(rest[0], If) and rest[0].id is None:
                node, head = rest[0], "else if"
                continue
            if rest:
                segments.append(("else", rest))
            break
        self.chain(depth, segments)

    def condition(self, cond: Expr, depth: int, before: int) -> str:
        """A block's condition after ``before`` characters of its line; a long ``a or b`` or
        ``a and b`` chain breaks before each operator."""
        text = print_expr(cond)
        if len(_INDENT * depth) + before + len(text) + 2 <= WIDTH or not (
            isinstance(cond, Binary) and cond.op in ("or", "and")
        ):
            return text
        parts: list[Expr] = []
        node: Expr = cond
        while isinstance(node, Binary) and node.op == cond.op:
            parts.append(node.right)
            node = node.left
        parts.append(node)
        parts.reverse()
        prec = BINARY_PREC[cond.op]
        texts = [expr_text(parts[0], prec)] + [expr_text(p, prec + 1) for p in parts[1:]]
        sep = "\n" + _INDENT * (depth + 2) + f"{cond.op} "
        return sep.join(texts)

    def wait_for(self, step: WaitFor, depth: int, label: str) -> None:
        head = f"{label}wait for {print_expr(step.target)}"
        head += f" as {step.bind.name}" if step.bind is not None else ""
        if step.where is not None:
            head += f" where {print_expr(step.where)}"
        if step.timeout is not None:
            head += f" {step.timeout.kind} {print_expr(step.timeout.value)}"
        if not step.then and not step.on_timeout:
            self.emit(depth, head)
        elif not step.then:
            self.block(f"{head} timeout", step.on_timeout, depth)
        elif not step.on_timeout:
            self.block(head, step.then, depth)
        else:
            self.chain(depth, [(head, step.then), ("timeout", step.on_timeout)])

    def wait_first(self, step: WaitFirst, depth: int, label: str) -> None:
        head = f"{label}wait first"
        if step.timeout is not None:
            head += f" {step.timeout.kind} {print_expr(step.timeout.value)}"
        self.emit(depth, head + " {")
        for branch in step.branches:
            if branch.event is not None:
                what = f"on {branch.event.name}"
                if branch.where is not None:
                    what += f" where {print_expr(branch.where)}"
            else:
                assert branch.condition is not None
                what = f"when {print_expr(branch.condition)}"
            if branch.steps:
                self.arm(what, branch.steps, depth + 1)
            else:
                self.emit(depth + 1, what)
        if step.on_timeout:
            self.arm("timeout", step.on_timeout, depth + 1)
        self.emit(depth, "}")

    def switch(self, step: Switch, depth: int, label: str) -> None:
        self.emit(depth, f"{label}switch {print_expr(step.subject)} {{")
        for case in step.cases:
            self.arm(f"case {_case_values(case)}", case.steps, depth + 1)
        if step.otherwise:
            self.arm("else", step.otherwise, depth + 1)
        self.emit(depth, "}")

    def arm(self, head: str, steps: Steps, depth: int) -> None:
        """A switch arm: ``head { step }`` on one line for one simple step that fits."""
        if len(steps) == 1 and not _is_compound(steps[0]):
            inner = _DslPrinter()
            inner.step(steps[0], 0)
            if len(inner.lines) == 1:
                line = f"{head} {{ {inner.lines[0]} }}"
                if len(_INDENT * depth + line) <= WIDTH:
                    self.emit(depth, line)
                    return
        self.block(head, steps, depth)

    def split(self, step: Split, depth: int, label: str) -> None:
        self.emit(depth, f"{label}split{' per entry' if step.draw == 'entry' else ''} {{")
        for arm in step.arms:
            self.block(f"{arm.weight}%", arm.steps, depth + 1)
        if step.holdout is not None:
            if step.holdout.steps:
                self.block(f"holdout {step.holdout.weight}%", step.holdout.steps, depth + 1)
            else:
                self.emit(depth + 1, f"holdout {step.holdout.weight}%")
        self.emit(depth, "}")


def _case_values(case: Case) -> str:
    return ", ".join(map(print_expr, case.values))


def _simple(step: Step) -> str:
    """A step without a block or params, as one line (without its label)."""
    match step:
        case Wait(duration=duration):
            return f"wait {print_expr(duration)}"
        case WaitUntil(at=at, next=()):
            return f"wait until {print_expr(at)}"
        case WaitUntil(at=at, next=days):
            return f"wait until next {_names(days)} {print_expr(at)}"
        case Update(attribute=attribute, value=value):
            return f"update {attribute.name} = {print_expr(value)}"
        case Tag(tag=tag, remove=remove):
            return f"{'untag' if remove else 'tag'} {tag.name}"
        case Set(var=var, value=value):
            return f"set {var.name} = {print_expr(value)}"
        case Exit(outcome=outcome):
            return f"exit {outcome.name}"
        case Break(kind=kind):
            return kind
        case ExitWith(value=value):
            return f"exit with {print_expr(value)}"
    raise TypeError(f"not a simple step: {step!r}")


# --------------------------------------------------------------------------- YAML


#: The sections of a YAML journey, by top-level key; a blank line goes between sections.
_YAML_SECTION = {
    "entry": 1,
    "quiet_hours": 2,
    "send_windows": 2,
    "fallback": 2,
    "goals": 3,
    "steps": 4,
}


def print_yaml(journey: Journey) -> str:
    """``journey`` as canonical YAML (flat step mappings; expressions are strings)."""
    text = yaml.dump(
        _yaml_journey(journey),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=WIDTH,
        default_flow_style=False,
    )
    lines: list[str] = []
    section = 0
    for line in text.splitlines():
        if line[:1].isalpha():  # a top-level key; every nested line is indented
            key = line.partition(":")[0]
            if _YAML_SECTION.get(key, 0) != section:
                section = _YAML_SECTION.get(key, 0)
                lines.append("")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _yaml_journey(j: Journey) -> dict[str, Any]:
    out: dict[str, Any] = {"journey": j.name.name, "version": j.version}
    if j.title is not None:
        out["title"] = j.title
    uses: dict[str, str] = {}
    if j.events_catalog is not None:
        uses["events"] = j.events_catalog.value
    if j.templates_catalog is not None:
        uses["templates"] = j.templates_catalog.value
    if uses:
        out["uses"] = uses
    if j.timezone is not None:
        out["timezone"] = j.timezone.value
    if j.outcomes:
        out["outcomes"] = [o.name for o in j.outcomes]
    if j.stale_after is not None:
        out["stale_after"] = print_expr(j.stale_after)
    if j.params:
        out["params"] = {p.name.name: print_expr(p.value) for p in j.params}
    out["entry"] = _yaml_entry(j.entry)
    if j.quiet_hours:
        out["quiet_hours"] = [
            {"from": qh.start.text, "to": qh.end.text, "channels": [c.name for c in qh.channels]}
            for qh in j.quiet_hours
        ]
    if j.send_windows:
        out["send_windows"] = [
            {
                "days": [d.name for d in w.days],
                "from": w.start.text,
                "to": w.end.text,
                "channels": [c.name for c in w.channels],
            }
            for w in j.send_windows
        ]
    if len(j.fallback) == 1:
        out["fallback"] = [c.name for c in j.fallback[0].channels]
    elif j.fallback:
        out["fallback"] = [[c.name for c in chain.channels] for chain in j.fallback]
    if j.goals:
        goals = []
        for goal in j.goals:
            g: dict[str, Any] = {"outcome": goal.outcome.name, "when": print_expr(goal.target)}
            if goal.where is not None:
                g["where"] = print_expr(goal.where)
            if goal.steps:
                g["steps"] = _yaml_steps(goal.steps)
            goals.append(g)
        out["goals"] = goals
    out["steps"] = _yaml_steps(j.steps)
    return out


def _yaml_entry(entry: Entry) -> dict[str, Any] | str:
    out: dict[str, Any] = {}
    if entry.kind == "event":
        assert entry.event is not None, "an event entry needs an event"
        out["event"] = entry.event.name
        if entry.where is not None:
            out["where"] = print_expr(entry.where)
    elif entry.kind == "segment":
        assert entry.condition is not None, "a segment entry needs a condition"
        assert entry.at is not None, "a segment entry needs a time of day"
        out["segment"] = print_expr(entry.condition)
        if entry.schedule is None:
            out["daily_at"] = entry.at.text
        else:
            out["schedule"] = print_schedule(entry.at, entry.schedule)
    elif entry.kind == "when":
        assert entry.condition is not None, "an entry on change needs a condition"
        out["when"] = print_expr(entry.condition)
    else:
        out["manual"] = True
        if entry.inputs:  # (hand-off: the values a manual entry expects)
            out["with"] = _yaml_params(entry.inputs)
    if entry.key is not None:
        out["key"] = print_expr(entry.key)
    out["reentry"] = reentry_text(entry.reentry)
    return out


def _yaml_params(params: tuple[Param, ...]) -> dict[str, str]:
    return {p.name.name: print_expr(p.value) for p in params}


def _yaml_steps(steps: Steps) -> list[dict[str, Any] | str]:
    return [s.kind if isinstance(s, Break) else _yaml_step(s) for s in steps]


def _yaml_arm(arm: Arm, steps_required: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"weight": f"{arm.weight}%"}
    if arm.steps or steps_required:
        out["steps"] = _yaml_steps(arm.steps)
    return out


def _yaml_branch(branch: FirstBranch) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if branch.event is not None:
        out["event"] = branch.event.name
        if branch.where is not None:
            out["where"] = print_expr(branch.where)
    elif branch.condition is not None:
        out["when"] = print_expr(branch.condition)
    if branch.steps:
        out["steps"] = _yaml_steps(branch.steps)
    return out


def _yaml_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if step.id is not None:
        out["id"] = step.id.name
    put: Callable[[str, Any], None] = out.__setitem__
    match step:
        case Send():
            put("send", step.template.name)
            put("channel", step.channel.name)
            if step.category is not None:
                put("category", step.category.name)
            if step.params:
                put("params", _yaml_params(step.params))
            if step.fallback == ():
                put("fallback", "none")
            elif step.fallback is not None:
                put("fallback", [c.name for c in step.fallback])
            if step.tags:
                put("tags", [t.name for t in step.tags])
        case Wait():
            put("wait", print_expr(step.duration))
        case WaitUntil():
            put("wait_until", print_expr(step.at))
            if step.next:
                put("next", [d.name for d in step.next])
        case WaitFor():
            put("wait_for", print_expr(step.target))
            if step.bind is not None:
                put("as", step.bind.name)
            if step.where is not None:
                put("where", print_expr(step.where))
            if step.timeout is not None:
                put(step.timeout.kind, print_expr(step.timeout.value))
            if step.then:
                put("then", _yaml_steps(step.then))
            if step.on_timeout:
                put("timeout", _yaml_steps(step.on_timeout))
        case WaitFirst():
            put("wait_first", [_yaml_branch(b) for b in step.branches])
            if step.timeout is not None:
                put(step.timeout.kind, print_expr(step.timeout.value))
            if step.on_timeout:
                put("timeout", _yaml_steps(step.on_timeout))
        case If():
            put("if", print_expr(step.cond))
            put("then", _yaml_steps(step.then))
            if step.otherwise:
                put("else", _yaml_steps(step.otherwise))
        case Switch():
            put("switch", print_expr(step.subject))
            put(
                "cases",
                [{"case": _case_values(c), "steps": _yaml_steps(c.steps)} for c in step.cases],
            )
            if step.otherwise:
                put("else", _yaml_steps(step.otherwise))
        case Split():
            put("split", [_yaml_arm(a) for a in step.arms])
            if step.draw == "entry":
                put("draw", "per_entry")
            if step.holdout is not None:
                put("holdout", _yaml_arm(step.holdout, steps_required=False))
        case Repeat():
            put("repeat", step.max)
            if step.counter is not None:
                put("as", step.counter.name)
            if step.until is not None:
                put("until", print_expr(step.until))
            put("steps", _yaml_steps(step.steps))
        case Parallel():  # parallel (concurrent paths)
            put("parallel", step.join)
            put("branches", [{"steps": _yaml_steps(b.steps)} for b in step.branches])
        case During():  # during (interrupting handlers)
            put("during", _yaml_steps(step.body))
            put("handlers", [_yaml_handler(h) for h in step.handlers])
        case Ticket():
            put("ticket", step.queue.name)
            if step.priority is not None:
                put("priority", print_expr(step.priority))
            if step.payload:
                put("payload", _yaml_params(step.payload))
            # ticket exits (accepted / not accepted)
            if step.accepted is not None:
                put("accepted", _yaml_steps(step.accepted))
            if step.not_accepted is not None:
                put("not_accepted", _yaml_steps(step.not_accepted))
        case Update():
            put("update", step.attribute.name)
            put("value", print_expr(step.value))
        case Tag():
            put("untag" if step.remove else "tag", step.tag.name)
        case Action():
            put(step.kind, step.name.name)
            if step.params:
                put("params", _yaml_params(step.params))
            reward_budget_yaml(step, put, _yaml_steps)  # reward budgets
        case Set():
            put("set", step.var.name)
            put("value", print_expr(step.value))
        case Exit():
            put("exit", step.outcome.name)
        case ExitWith():
            put("exit_with", print_expr(step.value))
        case Decide():  # decide: a decision call
            decide_yaml(step, put, _yaml_steps)
        case Enter():  # enter: hand-off to another journey
            enter_yaml(step, put, _yaml_steps)
        case Include():  # fragments
            include_yaml(step, put)
        case ChooseOffer():  # choose: the offer catalogue
            choose_yaml(step, put, _yaml_steps)
    return out


# ---------------------------------------------------------------- during (interrupting handlers)


def _during_head(h: DuringHandler) -> str:
    """``on EVENT [as NAME] [where COND]`` or ``when COND``: a handler's head in the DSL."""
    w = h.wait
    if h.condition:
        return f"when {print_expr(w.target)}"
    head = f"on {print_expr(w.target)}"
    head += f" as {w.bind.name}" if w.bind is not None else ""
    return head + (f" where {print_expr(w.where)}" if w.where is not None else "")


def _yaml_handler(h: DuringHandler) -> dict[str, Any]:
    """A handler as a YAML mapping: ``event`` (with ``as``, ``where``) or ``when``, and steps."""
    w = h.wait
    out: dict[str, Any] = {}
    if h.condition:
        out["when"] = print_expr(w.target)
    else:
        out["event"] = print_expr(w.target)
        if w.bind is not None:
            out["as"] = w.bind.name
        if w.where is not None:
            out["where"] = print_expr(w.where)
    if w.then:
        out["steps"] = _yaml_steps(w.then)
    return out
