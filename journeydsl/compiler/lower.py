"""Lowering: AST → IR graph, resolving names and checking types on the way.

Name and type problems are reported here, where the scope is known; graph-wide checks
(reachability, loops, definite assignment …) run afterwards over the IR (see ``checks/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.catalog import Catalog, EventSpec
from journeydsl.compiler.bounds import Bounds, variable_bounds
from journeydsl.compiler.calendars import day_set, lower_schedule, lower_send_windows
from journeydsl.compiler.decide import answer_type, lower_decide
from journeydsl.compiler.during import lower_during
from journeydsl.compiler.exitwith import lower_exit_with
from journeydsl.compiler.fallback import journey_fallbacks, send_fallback
from journeydsl.compiler.fragments import lower_include
from journeydsl.compiler.goals import goal_steps, lower_goal_steps
from journeydsl.compiler.handoff import declare_inputs, lower_enter
from journeydsl.compiler.lower_offers import chosen_type, lower_choose
from journeydsl.compiler.named_args import check_named_args
from journeydsl.compiler.parallel import lower_parallel
from journeydsl.compiler.params import journey_constants
from journeydsl.compiler.repeats import check_jumps, lower_break, lower_repeat
from journeydsl.compiler.rewards import draws_from_budget, lower_reward
from journeydsl.compiler.steps import _base_id, _blocks, _walk
from journeydsl.compiler.switch import lower_switch
from journeydsl.compiler.tickets import lower_ticket
from journeydsl.compiler.waitbind import bound_scopes
from journeydsl.compiler.waitfirst import lower_wait_first
from journeydsl.diagnostics import Diagnostics, Span, did_you_mean, uses_hint
from journeydsl.expr.checker import (
    Scope,
    Typed,
    check,
    check_bool,
    check_type,
    time_value,
)
from journeydsl.expr.codegen import install
from journeydsl.expr.limits import MAX_DURATION, builds_text, metered
from journeydsl.expr.types import DURATION, ERROR, INT, STRING, TIME, TIMESTAMP, Type, article
from journeydsl.syntax.printer import print_expr
from journeydsl.zones import DEFAULT_TIMEZONE

__all__ = ["DEFAULT_TIMEZONE", "Lowered", "lower"]


@dataclass(slots=True)
class Lowered:
    """The IR plus what the graph checks need: per-node variable reads and sets."""

    journey: ir.Journey
    reads: dict[str, list[tuple[str, Span]]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)
    counters: dict[str, str] = field(default_factory=dict)
    outcome_spans: dict[str, Span] = field(default_factory=dict)
    #: Variables read by goals (checked at every waiting step, where goals are evaluated).
    goal_reads: list[tuple[str, Span]] = field(default_factory=list)


_COMPARISONS = frozenset(("<", "<=", ">", ">=", "==", "!="))


class _Lowerer:
    def __init__(
        self,
        journey: A.Journey,
        catalog: Catalog,
        diags: Diagnostics,
        declared: dict[str, A.Expr] | None = None,
    ) -> None:
        self.src = journey
        self.folder: Path | None = None  # hand-off: where the targets are (see lower())
        self.declared = declared
        self.catalog = catalog
        self.diags = diags
        self.nodes: dict[str, ir.Node] = {}
        self.order: list[str] = []
        self.ids: dict[int, str] = {}
        self.out = Lowered(journey=None)  # type: ignore[arg-type]  # filled in at the end
        self.var_types: dict[str, Type] = {}
        self.var_spans: dict[str, Span] = {}
        self.outcomes = {o.name for o in journey.outcomes}
        self.fallback: dict[str, str] = {}
        self.bounds = Bounds()
        self.params: dict[str, str] = {}
        #: Per enclosing repeat: where a `break` and a `continue` in it jump to.
        self.loops: list[tuple[str | None, str]] = []
        #: The rounds an instance can run of the enclosing repeats, all told (their maxes
        #: multiplied), outermost first.
        self.rounds: list[int] = []
        #: The journey's steps, then the goals' (`goal … then { … }`), and the goals' exits.
        self.every: A.Steps = journey.steps + goal_steps(journey)
        self.goal_exits: list[str] = []
        trigger: EventSpec | None = None
        missing = "the journey does not enter on an event"
        unknown = False
        if journey.entry.kind == "event" and journey.entry.event is not None:
            trigger = catalog.events.get(journey.entry.event.name)
            missing = f"event '{journey.entry.event.name}' is not in the catalog"
            unknown = trigger is None
        elif journey.entry.kind == "segment":
            missing = "the journey enters on a segment, not an event"
        elif journey.entry.kind == "manual":
            missing = "the journey is entered from code, not on an event"
        elif journey.entry.kind == "when":
            missing = "the journey enters when a condition becomes true, not on an event"
        self.scope = Scope(
            catalog, diags, self.var_types, trigger, missing, trigger_unknown=unknown
        )

    # ------------------------------------------------------------------ ids

    def assign_ids(self) -> None:
        steps = list(_walk(self.every))
        taken: set[str] = set()
        for s in steps:
            if s.id is not None:
                if s.id.name in taken:
                    self.diags.error("JD106", f"step id '{s.id.name}' is used twice", s.id.span)
                    continue  # the second one gets a generated id, so the graph stays whole
                taken.add(s.id.name)
                self.ids[id(s)] = s.id.name
        counts: dict[str, int] = {}
        for s in steps:
            if id(s) in self.ids:
                continue
            base = _base_id(s)
            n = counts.get(base, 0)
            candidate = base if n == 0 else f"{base}_{n + 1}"
            while candidate in taken:
                n += 1
                candidate = f"{base}_{n + 1}"
            counts[base] = n + 1
            taken.add(candidate)
            self.ids[id(s)] = candidate

    # ------------------------------------------------------------------ helpers

    def cexpr(self, expr: A.Expr, typed: Typed) -> ir.CExpr:
        wrap = metered if builds_text(expr) else None
        fn = typed.fn if wrap is None else wrap(typed.fn)
        # Evaluated by its generated function (journeydsl.expr.codegen) when it has one.
        cexpr = ir.CExpr(print_expr(expr), typed.type, fn, typed.const, expr.span)
        return install(cexpr, typed, wrap)

    def add(self, node: ir.Node, *typed: Typed | None) -> str:
        self.nodes[node.id] = node
        reads = self.out.reads.setdefault(node.id, [])
        for t in typed:
            if t is not None:
                reads.extend(sorted(t.reads, key=lambda r: (r[1].line, r[1].column, r[0])))
        return node.id

    def check_counters(self) -> None:
        """A repeat's counter is its own: not a variable, and not the counter of a repeat it is
        nested in (repeats one after the other may reuse a name)."""

        def visit(steps: A.Steps, enclosing: dict[str, Span]) -> None:
            for s in steps:
                inner = enclosing
                if isinstance(s, A.Repeat) and s.counter is not None:
                    name = s.counter.name
                    if name in self.var_types:
                        where = self.var_spans[name]
                        self.diags.error(
                            "JD106",
                            f"'{name}' is both a repeat counter and a variable "
                            f"(set at line {where.line})",
                            s.counter.span,
                            "rename one of them; `set` cannot change a repeat's round number",
                        )
                    elif name in enclosing:
                        self.diags.error(
                            "JD106",
                            f"'{name}' already counts the rounds of the enclosing repeat at "
                            f"line {enclosing[name].line}",
                            s.counter.span,
                            "give the inner repeat its own counter name",
                        )
                    inner = {**enclosing, name: s.counter.span}
                for block in _blocks(s):
                    visit(block, inner)

        visit(self.src.steps, {})

    def infer_variables(self) -> None:
        """First `set` of a name fixes its type; later sets must agree."""
        self.inputs = declare_inputs(self)  # hand-off: `entry manual with { … }`
        probe = replace(self.scope, diags=Diagnostics())
        counters: dict[str, Type] = {}
        for s in _walk(self.src.steps):
            if isinstance(s, A.Repeat) and s.counter is not None:
                counters[s.counter.name] = INT
            if isinstance(s, A.Set) and s.var.name not in self.var_types:
                probe.variables = {**counters, **self.var_types}
                # A value with an error still declares the variable (as the poison type), so the
                # one mistake is not reported again at every read.
                self.var_types[s.var.name] = check(s.value, probe).type
                self.var_spans[s.var.name] = s.var.span
            if isinstance(s, A.Decide) and s.var.name not in self.var_types:  # decide
                self.var_types[s.var.name] = answer_type(self.catalog, s)
                self.var_spans[s.var.name] = s.var.span
            if isinstance(s, A.ChooseOffer) and s.var.name not in self.var_types:  # choose
                self.var_types[s.var.name] = chosen_type(self.catalog, s)
                self.var_spans[s.var.name] = s.var.span

    # ------------------------------------------------------------------ steps

    def lower_steps(self, steps: A.Steps, cont: str | None, scope: Scope) -> str | None:
        nxt = cont
        for s in reversed(steps):
            nxt = self.lower_step(s, nxt, replace(scope, bounds=self.bounds.before(s)))
        return nxt

    def lower_step(self, s: A.Step, nxt: str | None, scope: Scope) -> str | None:
        nid = self.ids[id(s)]
        span = s.span
        match s:
            case A.Send():
                return self.lower_send(s, nid, nxt, scope)
            case A.Wait():
                t = check_type(s.duration, scope, DURATION, "a wait's length")
                return self.add(ir.Wait(nid, span, "duration", self.cexpr(s.duration, t), nxt), t)
            case A.WaitUntil() if s.next:
                t = check_type(s.at, scope, TIME, "`wait until next`'s time")
                days = tuple(sorted(day_set(s.next, self.diags) or ()))
                until = ir.Wait(nid, span, "time_of_day", self.cexpr(s.at, t), nxt, days)
                return self.add(until, t)
            case A.WaitUntil():
                t = check(s.at, scope)
                mode = "time_of_day" if t.type == TIME else "until"
                if not t.type.is_error and t.type not in (TIME, TIMESTAMP):
                    self.diags.error(
                        "JD301",
                        f"`wait until` needs a timestamp or a time of day, not {article(t.type)}",
                        s.at.span,
                        "e.g. `wait until activated_at + 7d` or `wait until 09:00`",
                    )
                return self.add(ir.Wait(nid, span, mode, self.cexpr(s.at, t), nxt), t)
            case A.WaitFor():
                return self.lower_wait_for(s, nid, nxt, scope)
            case A.WaitFirst():
                return lower_wait_first(self, s, nid, nxt, scope)
            case A.If():
                c = check_bool(s.cond, scope)
                then = self.lower_steps(s.then, nxt, scope)
                other = self.lower_steps(s.otherwise, nxt, scope)
                probe = self.probe(s.cond, scope)
                branch = ir.Branch(nid, span, self.cexpr(s.cond, c), then, other, probe)
                return self.add(branch, c)
            case A.Switch():
                return lower_switch(self, s, nid, nxt, scope)
            case A.Split():
                arms = tuple((a.weight, self.lower_steps(a.steps, nxt, scope)) for a in s.arms)
                hold = (
                    (s.holdout.weight, self.lower_steps(s.holdout.steps, nxt, scope))
                    if s.holdout
                    else None
                )
                return self.add(ir.Split(nid, span, arms, hold, s.draw))
            case A.Repeat():
                return lower_repeat(self, s, nid, nxt, scope)
            case A.Parallel():
                return lower_parallel(self, s, nid, nxt, scope)
            case A.During():
                return lower_during(self, s, nid, nxt, scope)
            case A.Break():
                return lower_break(self, s, nxt)
            case A.ExitWith():
                return lower_exit_with(self, s, nid, scope)
            case A.Decide():  # decide: a decision call
                return lower_decide(self, s, nid, nxt, scope)
            case A.Enter():  # enter: hand-off to another journey
                return lower_enter(self, s, nid, nxt, scope)
            case A.Include():  # fragments: its expanded steps, in place
                return lower_include(self, s, nxt, scope)
            case A.ChooseOffer():  # choose: the offer catalogue
                return lower_choose(self, s, nid, nxt, scope)
            case A.Ticket():
                return lower_ticket(self, s, nid, nxt, scope)
            case A.Update():
                want = self.catalog.attributes.get(s.attribute.name)
                if want is None:
                    self.diags.error(
                        "JD203",
                        f"undefined profile attribute '{s.attribute.name}'",
                        s.attribute.span,
                        did_you_mean(s.attribute.name, self.catalog.attributes)
                        or "declare it under 'attributes:' in the events catalog",
                    )
                    t = check(s.value, scope)
                else:
                    t = check_type(s.value, scope, want, f"profile attribute '{s.attribute.name}'")
                return self.add(
                    ir.Update(nid, span, s.attribute.name, self.cexpr(s.value, t), nxt), t
                )
            case A.Tag():
                return self.add(ir.Tag(nid, span, s.tag.name, s.remove, nxt))
            case A.Action() if draws_from_budget(s):  # reward budgets
                return lower_reward(self, s, nid, nxt, scope)
            case A.Action():
                params, typed = self.free_params(s.params, scope)
                return self.add(ir.Action(nid, span, s.kind, s.name.name, params, nxt), *typed)
            case A.Set():
                want = self.var_types.get(s.var.name, ERROR)
                t = check_type(s.value, scope, want, f"variable '{s.var.name}'")
                self.out.sets[nid] = s.var.name
                return self.add(ir.Set(nid, span, s.var.name, self.cexpr(s.value, t), nxt), t)
            case A.Exit():
                self.check_outcome(s.outcome)
                return self.add(ir.Exit(nid, span, s.outcome.name))
        raise TypeError(s)  # pragma: no cover

    def check_outcome(self, outcome: A.Ident) -> None:
        if outcome.name not in self.outcomes:
            self.diags.error(
                "JD207",
                f"undefined outcome '{outcome.name}'",
                outcome.span,
                did_you_mean(outcome.name, self.outcomes)
                or f"declare it: `outcomes {', '.join([*sorted(self.outcomes), outcome.name])}`",
            )

    def free_params(
        self, params: tuple[A.Param, ...], scope: Scope
    ) -> tuple[tuple[tuple[str, ir.CExpr], ...], list[Typed]]:
        out, typed, seen = [], [], set()
        for p in params:
            if p.name.name in seen:
                self.diags.error("JD106", f"'{p.name.name}' is given twice", p.name.span)
            seen.add(p.name.name)
            t = check(p.value, scope, absent="null")
            typed.append(t)
            out.append((p.name.name, self.cexpr(p.value, t)))
        return tuple(out), typed

    def channel_ok(self, ch: A.Ident) -> bool:
        if ch.name in A.CHANNELS:
            return True
        self.diags.error(
            "JD206",
            f"undefined channel '{ch.name}'",
            ch.span,
            did_you_mean(ch.name, A.CHANNELS) or f"channels are {', '.join(A.CHANNELS)}",
        )
        return False

    def lower_send(self, s: A.Send, nid: str, nxt: str | None, scope: Scope) -> str:
        tpl = self.catalog.templates.get(s.template.name)
        channel_ok = self.channel_ok(s.channel)
        if tpl is None:
            self.diags.error(
                "JD205",
                f"undefined template '{s.template.name}'",
                s.template.span,
                did_you_mean(s.template.name, self.catalog.templates)
                if self.catalog.has_templates
                else uses_hint("templates", s.template.span.file),
            )
        elif channel_ok and s.channel.name not in tpl.channels:
            self.diags.error(
                "JD210",
                f"template '{tpl.name}' has no {s.channel.name} version",
                s.channel.span,
                f"it exists on: {', '.join(tpl.channels)}",
            )
        category = s.category.name if s.category else (tpl.category if tpl else "marketing")
        if tpl is not None and s.category is not None and s.category.name != tpl.category:
            self.diags.error(
                "JD307",
                f"this send is {s.category.name} but template '{tpl.name}' is {tpl.category}",
                s.category.span,
                "a message's category decides consent and quiet hours; use the template's",
            )
        typed = check_named_args(
            self.diags,
            s.params,
            tpl.params if tpl is not None else None,
            scope,
            owner=f"template '{s.template.name}'",
            owner_span=s.template.span,
            word="param",
            add_hint=lambda name: f"add it: {{ {name}: … }}",
            none_hint="it takes none",
            absent="null",
        )
        params = [
            (p.name.name, self.cexpr(p.value, t)) for p, t in zip(s.params, typed, strict=True)
        ]
        chain = send_fallback(s, self.fallback, self.channel_ok, self.diags)
        if tpl is not None:
            for c in chain:
                if c not in tpl.channels:
                    self.diags.warning(
                        "JD211",
                        f"fallback to {c} cannot deliver '{tpl.name}': it has no {c} version",
                        s.span if s.fallback is None else s.channel.span,
                        f"it exists on: {', '.join(tpl.channels)}",
                    )
        tags: list[str] = []
        for tag in s.tags:
            if tag.name in tags:
                self.diags.error("JD106", f"tag '{tag.name}' is given twice", tag.span)
            else:
                tags.append(tag.name)
        node = ir.Send(
            nid,
            s.span,
            s.template.name,
            s.channel.name,
            category,
            tuple(params),
            tuple(chain),
            nxt,
            tuple(tags),
        )
        return self.add(node, *typed)

    def lower_wait_for(self, s: A.WaitFor, nid: str, nxt: str | None, scope: Scope) -> str:
        target = s.target
        event: str | None = None
        where: ir.CExpr | None = None
        cond: ir.CExpr | None = None
        typed: list[Typed] = []
        if (
            isinstance(target, A.Name)
            and target.name in self.catalog.events
            and target.name not in scope.variables
        ):
            event = target.name
        where_scope, then_scope = bound_scopes(self, s, event, scope)
        if event is not None:
            if s.where is not None:
                w = check_bool(s.where, where_scope.for_event(self.catalog.events[event]))
                typed.append(w)
                where = self.cexpr(s.where, w)
        else:
            if (
                isinstance(target, A.Name)
                and target.name not in scope.variables
                and (target.name not in ("now", "entered_at"))
            ):
                self.diags.error(
                    "JD201",
                    f"undefined event '{target.name}'",
                    target.span,
                    did_you_mean(target.name, [*self.catalog.events, *scope.variables])
                    if self.catalog.has_events
                    else uses_hint("events", target.span.file),
                )
                c = Typed(ERROR, lambda ctx, ev: False)
            else:
                c = check_bool(target, scope)
            typed.append(c)
            cond = self.cexpr(target, c)
            if s.where is not None and not c.type.is_error:
                self.diags.error(
                    "JD105",
                    "`where` filters an event; this waits for a condition",
                    s.where.span,
                    "fold the filter into the condition with `and`",
                )
        mode: str | None = None
        timeout: ir.CExpr | None = None
        if s.timeout is not None:
            mode = s.timeout.kind
            want = DURATION if mode == "within" else TIMESTAMP
            what = "`within`" if mode == "within" else "`until`"
            tt = check_type(s.timeout.value, scope, want, what)
            typed.append(tt)
            timeout = self.cexpr(s.timeout.value, tt)
        then = self.lower_steps(s.then, nxt, then_scope)
        on_timeout = self.lower_steps(s.on_timeout, nxt, scope)
        bind = s.bind.name if s.bind is not None and event is not None else None
        node = ir.WaitFor(nid, s.span, event, where, cond, mode, timeout, then, on_timeout, bind)
        return self.add(node, *typed)

    # ------------------------------------------------------------------ journey

    def lower_header(self) -> tuple[ir.Entry, tuple[ir.QuietHours, ...], tuple[ir.Goal, ...]]:
        j = self.src
        seen: set[str] = set()
        for o in j.outcomes:
            if o.name in seen:
                self.diags.error("JD106", f"outcome '{o.name}' is declared twice", o.span)
            seen.add(o.name)
            self.out.outcome_spans.setdefault(o.name, o.span)
        self.fallback.update(journey_fallbacks(j.fallback, self.channel_ok, self.diags))
        quiet = []
        for q in j.quiet_hours:
            chans = tuple(c.name for c in q.channels if self.channel_ok(c))
            start, end = time_value(q.start.text), time_value(q.end.text)
            for lit, value in ((q.start, start), (q.end, end)):
                if value is None:
                    self.diags.error(
                        "JD108",
                        f"'{lit.text}' is not a time of day",
                        lit.span,
                        "write HH:MM with hours 00-23 and minutes 00-59",
                    )
            if start is not None and end is not None:
                quiet.append(ir.QuietHours(chans, start, end))
        entry = self.lower_entry(j.entry)
        goals = []
        for g in j.goals:
            self.check_outcome(g.outcome)
            ev, where, cond = self.event_or_condition(g.target, g.where, self.scope)
            goals.append(ir.Goal(g.outcome.name, ev, where, cond, lower_goal_steps(self, g, _walk)))
        return entry, tuple(quiet), tuple(goals)

    def event_or_condition(
        self, target: A.Expr, where_src: A.Expr | None, scope: Scope
    ) -> tuple[str | None, ir.CExpr | None, ir.CExpr | None]:
        if isinstance(target, A.Name) and target.name in self.catalog.events:
            where = None
            if where_src is not None:
                w = check_bool(where_src, scope.for_event(self.catalog.events[target.name]))
                where = self.cexpr(where_src, w)
            if where is not None:
                self.out.goal_reads.extend(sorted(w.reads, key=lambda r: (r[1].line, r[1].column)))
            return target.name, where, None
        if isinstance(target, A.Name) and target.name not in scope.variables:
            self.diags.error(
                "JD201",
                f"undefined event '{target.name}'",
                target.span,
                did_you_mean(target.name, self.catalog.events),
            )
            return None, None, None
        c = check_bool(target, scope)
        self.out.goal_reads.extend(sorted(c.reads, key=lambda r: (r[1].line, r[1].column)))
        return None, None, self.cexpr(target, c)

    def lower_entry(self, e: A.Entry) -> ir.Entry:
        where = cond = key = None
        event = None
        at = None
        if e.kind == "event" and e.event is not None:
            event = e.event.name
            if event not in self.catalog.events:
                self.diags.error(
                    "JD201",
                    f"undefined event '{event}'",
                    e.event.span,
                    did_you_mean(event, self.catalog.events)
                    if self.catalog.has_events
                    else uses_hint("events", e.event.span.file),
                )
            elif e.where is not None:
                w = check_bool(e.where, self.scope.for_event(self.catalog.events[event]))
                where = self.cexpr(e.where, w)
        elif e.kind in ("segment", "when") and e.condition is not None:
            c = check_bool(e.condition, self.scope)
            cond = self.cexpr(e.condition, c)
            if e.at is not None:
                at = time_value(e.at.text)
                if at is None:
                    self.diags.error(
                        "JD108",
                        f"'{e.at.text}' is not a time of day",
                        e.at.span,
                        "write HH:MM with hours 00-23 and minutes 00-59",
                    )
        after: timedelta | None = None
        if e.reentry.kind == "after" and e.reentry.after is not None:
            rt = check_type(e.reentry.after, self.scope, DURATION, "`reentry after`")
            if rt.const and not rt.type.is_error:
                try:
                    after = rt.fn(None, None)  # type: ignore[arg-type]  # constants ignore context
                except (ArithmeticError, ValueError):  # past datetime's range, or a limit
                    self.diags.error(
                        "JD105",
                        "`reentry after` is longer than any duration can be",
                        e.reentry.after.span,
                        f"at most {MAX_DURATION.days}d is meaningful",
                    )
            elif not rt.type.is_error:
                self.diags.error(
                    "JD105", "`reentry after` must be a fixed duration", e.reentry.after.span
                )
        if e.key is not None:
            kt = check_type(e.key, self.scope, STRING, "the instance key")
            key = self.cexpr(e.key, kt)
        schedule, anniversary = (
            lower_schedule(e.schedule, self.scope, self.cexpr)
            if e.kind == "segment" and e.schedule is not None
            else (None, None)
        )
        return ir.Entry(
            e.kind,
            event,
            where,
            cond,
            at,
            e.reentry.kind,
            after,
            key,
            schedule,
            anniversary,
            self.inputs,  # hand-off: what the entry expects
        )

    def probe(self, cond: A.Expr, scope: Scope) -> ir.CExpr | None:
        """The left side of a comparison, compiled apart for the decision log (None for a
        constant or for another condition); checked quietly, as the condition reported
        its problems already."""
        if not (isinstance(cond, A.Binary) and cond.op in _COMPARISONS):
            return None
        left = check(cond.left, replace(scope, diags=Diagnostics()))
        return None if left.const or left.type.is_error else self.cexpr(cond.left, left)

    def lower_stale_after(self) -> timedelta | None:
        """The journey's ``stale after``: a fixed, positive duration (None when not given)."""
        given = self.src.stale_after
        if given is None:
            return None
        rt = check_type(given, self.scope, DURATION, "`stale after`")
        if rt.type.is_error:
            return None
        value = rt.fn(None, None) if rt.const else None  # type: ignore[arg-type]  # constants ignore context
        if not isinstance(value, timedelta) or value <= timedelta(0):
            self.diags.error(
                "JD105",
                "`stale after` must be a fixed, positive duration",
                given.span,
                "e.g. `stale after 12h`: a timer that fires later than that after its time "
                "sends nothing to the customer",
            )
            return None
        return value

    def run(self) -> Lowered:
        self.assign_ids()
        if self.src.params:
            constants = journey_constants(self.src, self.scope, self.diags, self.declared)
            self.scope = replace(self.scope, constants={**self.scope.constants, **constants})
            self.params = {p.name.name: print_expr(p.value) for p in self.src.params}
        self.infer_variables()
        for p in self.src.params:
            if p.name.name in self.var_types:
                self.diags.error(
                    "JD106",
                    f"'{p.name.name}' is both a param and a journey variable",
                    p.name.span,
                    "rename one of them",
                )
        self.check_counters()
        check_jumps(self.every, _blocks, self.diags)
        self.bounds = variable_bounds(self.src.steps, self.scope)
        entry, quiet, goals = self.lower_header()
        start = self.lower_steps(self.src.steps, None, self.scope)
        self.bounds.add_to(self.diags)
        order = [self.ids[id(s)] for s in _walk(self.every)]
        ordered: dict[str, ir.Node] = {}
        for nid in [*order, *self.goal_exits]:
            for extra in (nid, f"{nid}.check", f"{nid}.next", f"{nid}.join", f"{nid}.retry"):
                if extra in self.nodes:
                    ordered[extra] = self.nodes[extra]
        tz = self.src.timezone.value if self.src.timezone else DEFAULT_TIMEZONE
        self.out.journey = ir.Journey(
            id=self.src.name.name,
            version=self.src.version,
            title=self.src.title,
            timezone=tz,
            entry=entry,
            outcomes=tuple(o.name for o in self.src.outcomes),
            quiet_hours=quiet,
            fallback=dict(self.fallback),
            goals=goals,
            start=start,
            nodes=ordered,
            variables=dict(self.var_types),
            event_types={name: dict(spec.fields) for name, spec in self.catalog.events.items()},
            attribute_types=dict(self.catalog.attributes),
            stale_after=self.lower_stale_after(),
            send_windows=lower_send_windows(self.src.send_windows, self.channel_ok, self.diags),
            params=self.params,
            labels=frozenset(s.id.name for s in _walk(self.every) if s.id is not None),
            history_window=max(self.scope.history, default=None),
            template_names=frozenset(self.catalog.templates),
        )
        return self.out


def lower(
    journey: A.Journey,
    catalog: Catalog,
    diags: Diagnostics,
    declared: dict[str, A.Expr] | None = None,
    folder: Path | None = None,
) -> Lowered:
    """Lower ``journey`` to IR, reporting name and type problems to ``diags``; ``declared``
    holds the journey's own values of parameters given other values (their types bind).
    ``folder``: where the journeys it hands off to are (default: its file's folder)."""
    lowerer = _Lowerer(journey, catalog, diags, declared)
    lowerer.folder = folder  # hand-off: where the targets are
    return lowerer.run()
