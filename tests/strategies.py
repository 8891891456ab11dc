"""Hypothesis strategies for random ASTs.

``exprs()`` draws any well-formed expression (types aside): it exercises the printer's precedence
and quoting. ``journeys()`` draws whole journeys that are *well-typed* against the example catalogs
(``examples/events.yaml``, ``examples/templates.yaml``), so later stages must accept them too. Both
build the AST directly, with default spans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
from hypothesis import strategies as st

from journeydsl.ast import (
    Action,
    Aggregate,
    Arm,
    Attr,
    Binary,
    BoolLit,
    Break,
    By,
    Call,
    Case,
    ChooseOffer,
    Cond,
    DateLit,
    Decide,
    DurationLit,
    During,
    DuringHandler,
    Enter,
    Entry,
    Exit,
    ExitWith,
    Expr,
    FallbackChain,
    FirstBranch,
    Goal,
    Ident,
    If,
    Include,
    Journey,
    ListExpr,
    MoneyLit,
    Name,
    NumberLit,
    Parallel,
    ParallelBranch,
    Param,
    QuietHours,
    Reentry,
    Repeat,
    Schedule,
    Send,
    SendWindow,
    Set,
    Split,
    Step,
    Steps,
    StringLit,
    Switch,
    Tag,
    Ticket,
    TimeLit,
    Timeout,
    TimestampLit,
    Unary,
    Update,
    Wait,
    WaitFirst,
    WaitFor,
    WaitUntil,
    Window,
)

__all__ = ["KEYWORDS", "TEMPLATES", "exprs", "journeys"]

_ROOT = Path(__file__).resolve().parents[1]
_GRAMMAR = (_ROOT / "journeydsl" / "grammar.lark").read_text(encoding="utf-8")

#: The DSL's reserved words (every quoted word of the grammar); never drawn as names.
KEYWORDS: frozenset[str] = frozenset(re.findall(r'"([a-z_]+)"', _GRAMMAR))

#: templates.yaml as plain data: name -> {category, channels, params}.
TEMPLATES: dict[str, dict[str, Any]] = yaml.safe_load(
    (_ROOT / "examples" / "templates.yaml").read_text(encoding="utf-8")
)["templates"]


# --------------------------------------------------------------------------- expressions

_NAMES = ("x", "y_2", "offer", "round", "now", "entered_at", "journey_id", "profile", "Tiki")
_ATTR_NAMES = ("amount", "card_id", "has_digital_app", "journey", "z9")
_FUNCS = ("date", "lower", "f")
_AGG_FUNCS = ("count", "has", "sum", "min", "max", "last", "top")
_BINARY_OPS = ("or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%")
_UNITS = "smhdw"
_CURRENCIES = ("VND", "USD")

# String values that stress quoting: quotes, backslashes, escapes, Vietnamese and other unicode.
_STRING_ALPHABET = st.one_of(
    st.sampled_from('"\\\n\t #{}:,-\x85\u2028\u2029'),
    st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Co", "Cn", "Cf", "Zl", "Zp"),
    ),
)

_numbers = st.from_regex(r"\A(0|[1-9][0-9]{0,2}(_[0-9]{3}){0,2})(\.[0-9]{1,2})?\Z")


_calendar_dates = st.dates(date(2000, 1, 1), date(2099, 12, 31))
_TIMESTAMP_TAILS = ("", ":30", "Z", "+07:00", "-05:00", "[Europe/Berlin]", "[Asia/Ho_Chi_Minh]")
#: Day lists as a journey writes them.
_DAY_LISTS: tuple[tuple[str, ...], ...] = (
    ("weekday",),
    ("weekend",),
    ("mon",),
    ("mon", "thu"),
    ("friday", "sat"),
)


def _days(names: tuple[str, ...]) -> tuple[Ident, ...]:
    return tuple(Ident(n) for n in names)


def _leaves() -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(BoolLit, st.booleans()),
        st.builds(NumberLit, _numbers),
        st.builds(StringLit, st.text(_STRING_ALPHABET, max_size=8)),
        st.builds(MoneyLit, _numbers, st.sampled_from(_CURRENCIES)),
        st.builds(
            lambda n, u: DurationLit(f"{n}{u}"),
            st.integers(0, 400),
            st.sampled_from(_UNITS),
        ),
        st.builds(lambda h, m: TimeLit(f"{h:02d}:{m:02d}"), st.integers(0, 23), st.integers(0, 59)),
        st.builds(lambda d: DateLit(d.isoformat()), _calendar_dates),
        st.builds(
            lambda d, h, m, tail: TimestampLit(f"{d.isoformat()}T{h:02d}:{m:02d}{tail}"),
            _calendar_dates,
            st.integers(0, 23),
            st.integers(0, 59),
            st.sampled_from(_TIMESTAMP_TAILS),
        ),
        st.builds(Name, st.sampled_from(_NAMES)),
    )


def _compound(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    opt = st.none() | children
    window = st.one_of(
        st.builds(Window, st.just("since"), st.just(Name("entry")) | children, opt),
        st.builds(Window, st.just("last"), st.none(), children),
    )
    by = st.builds(By, st.just("count"), st.none()) | st.builds(By, st.just("sum"), children)
    return st.one_of(
        st.builds(Attr, children, st.sampled_from(_ATTR_NAMES)),
        st.builds(Unary, st.sampled_from(["-", "not"]), children),
        st.builds(Binary, st.sampled_from(_BINARY_OPS), children, children),
        st.builds(Cond, children, children, children),
        st.builds(ListExpr, st.lists(children, max_size=3).map(tuple)),
        st.builds(Call, st.sampled_from(_FUNCS), st.lists(children, max_size=3).map(tuple)),
        st.builds(
            Aggregate,
            st.sampled_from(_AGG_FUNCS),
            children,
            by=st.none() | by,
            where=opt,
            window=st.none() | window,
            default=opt,
        ),
    )


def exprs() -> st.SearchStrategy[Expr]:
    """Random well-formed expression ASTs of every kind (not necessarily well-typed)."""
    assert not KEYWORDS & {*_NAMES, *_FUNCS}
    return st.recursive(_leaves(), _compound, max_leaves=12)


# --------------------------------------------------------------------------- journeys
#
# Well-typed building blocks, checked by hand against examples/events.yaml and templates.yaml.


def _since_entry() -> Window:
    return Window("since", Name("entry"), None)


def _last(duration: str) -> Window:
    return Window("last", None, DurationLit(duration))


def _attr(obj: str, name: str) -> Attr:
    return Attr(Name(obj), name)


_MILLION = MoneyLit("1_000_000", "VND")

_CONDITIONS: tuple[Expr, ...] = (
    Aggregate("has", Name("card_activated"), window=_since_entry()),
    Binary("==", Aggregate("count", Name("transaction"), window=_last("30d")), NumberLit("0")),
    Binary(
        ">=",
        Aggregate("sum", _attr("transaction", "amount"), window=_since_entry()),
        _MILLION,
    ),
    _attr("profile", "has_digital_app"),
    Aggregate("has", Name("app_installed"), window=_since_entry()),
    Aggregate(
        "has",
        Name("transaction"),
        where=Binary("==", _attr("transaction", "category"), StringLit("travel")),
        window=_last("90d"),
    ),
    Binary("==", _attr("profile", "segment"), StringLit("premium")),
    Binary("in", _attr("profile", "city"), ListExpr((StringLit("Hà Nội"), StringLit("Huế")))),
    Aggregate(
        "has",
        Name("message_opened"),
        where=Binary("==", _attr("message_opened", "journey"), Name("journey_id")),
        window=_since_entry(),
    ),
    Binary(
        ">=", Aggregate("count", Name("message_clicked"), window=_since_entry()), NumberLit("2")
    ),
    Binary(
        "==",
        Aggregate(
            "top",
            _attr("transaction", "merchant"),
            by=By("sum", _attr("transaction", "amount")),
            window=_last("365d"),
        ),
        StringLit("Tiki"),
    ),
    # Message history: sent(…) by template, channel, category and any.
    Binary("==", Aggregate("sent", Name("app_promo"), window=_last("60d")), NumberLit("0")),
    Binary("<", Aggregate("sent", Name("push"), window=_last("1d")), NumberLit("2")),
    Binary("==", Aggregate("sent", Name("marketing"), window=_last("7d")), NumberLit("0")),
    Binary("<=", Aggregate("sent", Name("any"), window=_last("1d")), NumberLit("3")),
)


def _combine(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(Binary, st.sampled_from(["and", "or"]), children, children),
        st.builds(Unary, st.just("not"), children),
    )


#: Bool conditions over the example catalogs, combined with and/or/not.
conditions: st.SearchStrategy[Expr] = st.recursive(
    st.sampled_from(_CONDITIONS), _combine, max_leaves=3
)
_durations = st.sampled_from(["1d", "3d", "12h", "7d"]).map(DurationLit)

_OFFER_IS_VAR = Binary("==", _attr("offer_registered", "offer"), Name("offer"))
# (event, optional where) pairs a wait_for can wait for; or a condition (no where).
_AWAITED: tuple[tuple[Expr, Expr | None], ...] = (
    (Name("card_activated"), None),
    (Name("app_installed"), None),
    (Name("transaction"), Binary(">=", _attr("transaction", "amount"), MoneyLit("500_000", "VND"))),
    (Name("offer_registered"), _OFFER_IS_VAR),
    (
        Binary(
            ">=",
            Aggregate("sum", _attr("transaction", "amount"), window=_since_entry()),
            _MILLION,
        ),
        None,
    ),
)
_STRINGS = ("tiki_voucher", "Ưu đãi đặc biệt", 'say "hi"', "a\\b", "two\nlines\tand tab")
_SEGMENTS = ("gold", "platinum", "classic", "premium")
_EXIT_OUTCOMES = ("done", "registered", "no_engagement")
_GOALS = (
    Goal(Ident("reactivated"), Name("transaction")),
    Goal(Ident("activated"), Name("card_activated")),
    Goal(
        Ident("big_spender"),
        Name("transaction"),
        Binary(">=", _attr("transaction", "amount"), MoneyLit("5_000_000", "VND")),
    ),
    Goal(Ident("app_user"), Aggregate("has", Name("app_installed"), window=_since_entry())),
    # A goal that runs steps (goal … then { … }).
    Goal(
        Ident("cancelled"),
        Name("cancel_request"),
        steps=(
            Ticket(
                Ident("retention"), None, (Param(Ident("card_id"), _attr("trigger", "card_id")),)
            ),
            Tag(Ident("churned")),
        ),
    ),
)
_MAX_STEPS = 12
_MAX_DEPTH = 3
_VAR = "offer"


@dataclass
class _Ctx:
    """What a journey under construction has so far."""

    budget: int = _MAX_STEPS
    ids: int = 0
    has_var: bool = False
    #: The journey declares ``param _PARAM = <a duration>``, which waits may use.
    has_param: bool = False
    counters: list[str] = field(default_factory=list)
    in_repeat: int = 0
    in_parallel: bool = False
    outcomes: list[str] = field(default_factory=list)


_T = TypeVar("_T")

#: The journey parameter a generated journey may declare (a duration).
_PARAM = "reminder_gap"


def _duration(draw: st.DrawFn, ctx: _Ctx) -> Expr:
    """A duration literal, or the journey's duration parameter when it declares one."""
    if ctx.has_param and draw(st.booleans()):
        return Name(_PARAM)
    return draw(_durations)


def _pick(draw: st.DrawFn, items: Sequence[_T]) -> _T:
    """One of ``items``; drawing an index keeps hypothesis from building a new strategy."""
    return items[draw(st.integers(0, len(items) - 1))]


def _chance(draw: st.DrawFn, one_in: int) -> bool:
    """True one time in ``one_in`` (False when shrunk, so failures shrink to fewer features)."""
    return draw(st.integers(0, one_in - 1)) == one_in - 1


_STRING_VALUES: tuple[Expr, ...] = (
    *(StringLit(s) for s in _STRINGS),
    _attr("trigger", "card_id"),
    _attr("trigger", "product"),
)
_DATES: tuple[Expr, ...] = (
    Call("date", (Name("now"),)),
    Call("date", (Binary("+", Name("entered_at"), DurationLit("30d")),)),
    DateLit("2026-02-22"),
)
_MONEY: tuple[Expr, ...] = (_MILLION, MoneyLit("250_000", "VND"))
_INTS: tuple[Expr, ...] = (NumberLit("1"), NumberLit("2"), NumberLit("10"))
_TEMPLATE_NAMES = tuple(sorted(TEMPLATES))
_WAIT_UNTIL: tuple[Expr, ...] = (
    TimeLit("09:00"),
    Binary("+", Name("entered_at"), DurationLit("3d")),
)
_UPDATES: tuple[tuple[str, Expr], ...] = (
    ("segment", StringLit("engaged")),
    ("has_digital_app", BoolLit(True)),
    ("city", StringLit("Đà Nẵng")),
)
_PRIORITIES: tuple[Expr | None, ...] = (None, Name("normal"), Name("urgent"))
_REENTRIES = (Reentry("once"), Reentry("always"), Reentry("after", DurationLit("180d")))
_TITLES = (None, "Onboarding", 'The "new" cardholder — Thẻ mới')
_JOURNEY_FALLBACK = FallbackChain((Ident("push"), Ident("zns"), Ident("sms")))
_QUIET_CHANNELS = ("sms", "zns", "push")


def _string_value(draw: st.DrawFn, ctx: _Ctx) -> Expr:
    if ctx.has_var and _chance(draw, 3):
        return Name(_VAR)
    return _pick(draw, _STRING_VALUES)


def _param_value(draw: st.DrawFn, ctx: _Ctx, type_: Any) -> Expr:
    if type_ == "int":
        return _pick(draw, [*_INTS, *(Name(c) for c in ctx.counters)])
    if type_ == "string":
        return _string_value(draw, ctx)
    if type_ == "date":
        return _pick(draw, _DATES)
    assert type_ == {"type": "money", "currency": "VND"}, type_
    return _pick(draw, _MONEY)


def _send(draw: st.DrawFn, ctx: _Ctx, step_id: Ident | None) -> Send:
    name = _pick(draw, _TEMPLATE_NAMES)
    template = TEMPLATES[name]
    channels: list[str] = template["channels"]
    channel = _pick(draw, channels)
    category = Ident(template["category"]) if draw(st.booleans()) else None
    params = tuple(
        Param(Ident(p), _param_value(draw, ctx, t)) for p, t in template.get("params", {}).items()
    )
    # None keeps the journey's chain, () is `fallback none`, else other channels of the template.
    others = [Ident(c) for c in channels if c != channel]
    fallback: tuple[Ident, ...] | None = None
    how = draw(st.integers(0, 2))
    if how == 1:
        fallback = ()
    elif how == 2 and others:
        fallback = tuple(others[: draw(st.integers(1, len(others)))])
    tags = (Ident("lapsed"), Ident("promo"))[: draw(st.integers(0, 2))]
    return Send(Ident(name), Ident(channel), category, params, fallback, step_id, tags)


def _exits(step: Step) -> bool:
    """Whether every path through ``step`` ends the journey (what follows is unreachable)."""
    match step:
        case Exit() | ExitWith() | Break():  # after a break or continue nothing in its block runs
            return True
        case If(then=then, otherwise=otherwise):
            return _block_exits(then) and _block_exits(otherwise)
        case WaitFor(then=then, on_timeout=on_timeout):
            return _block_exits(then) and _block_exits(on_timeout)
        case Ticket(accepted=accepted, not_accepted=not_accepted):  # ticket exits
            return _block_exits(accepted or ()) and _block_exits(not_accepted or ())
        case WaitFirst(branches=branches, on_timeout=on_timeout):
            return all(_block_exits(b.steps) for b in branches) and _block_exits(on_timeout)
        case Switch(cases=cases, otherwise=otherwise):
            return all(_block_exits(c.steps) for c in cases) and _block_exits(otherwise)
        case Split(arms=arms, holdout=holdout):
            arm_list = [*arms, *([holdout] if holdout else [])]
            return all(_block_exits(a.steps) for a in arm_list)
    return False


def _block_exits(steps: Steps) -> bool:
    return any(_exits(s) for s in steps)


def _block(draw: st.DrawFn, ctx: _Ctx, depth: int, lo: int = 0, hi: int = 3) -> Steps:
    """Up to ``hi`` steps at ``depth``; the block may end with an exit but never runs past one."""
    steps: list[Step] = []
    for _ in range(draw(st.integers(lo, hi))):
        if ctx.budget <= 0:
            break
        steps.append(_step(draw, ctx, depth))
        if _exits(steps[-1]):
            return tuple(steps)
    # Exits inside a loop body are left out: a body that always exits is no loop.
    if ctx.budget > 0 and not ctx.in_repeat and _chance(draw, 4):
        outcome = _pick(draw, _EXIT_OUTCOMES)
        ctx.outcomes.append(outcome)
        ctx.budget -= 1
        if _chance(draw, 3):  # exit with: an outcome chosen by an expression
            other = _pick(draw, _EXIT_OUTCOMES)
            ctx.outcomes.append(other)
            chosen = Cond(draw(conditions), StringLit(outcome), StringLit(other))
            steps.append(ExitWith(chosen, _id(draw, ctx)))
        else:
            steps.append(Exit(Ident(outcome), _id(draw, ctx)))
    elif ctx.budget > 0 and ctx.in_repeat and not ctx.in_parallel and _chance(draw, 4):
        # (not inside a parallel branch: a branch is not the repeat's body)
        steps.append(Break(_pick(draw, ("break", "continue"))))
    return tuple(steps)


def _id(draw: st.DrawFn, ctx: _Ctx) -> Ident | None:
    if not _chance(draw, 4):
        return None
    ctx.ids += 1
    return Ident(f"s{ctx.ids}")


_SIMPLE = ("send", "wait", "wait_until", "ticket", "update", "tag", "action", "include")
_COMPOUND = (
    "if",
    "wait_for",
    "wait_first",
    "switch",
    "split",
    "repeat",
    "parallel",
    "decide",
    "during",
    "enter",  # hand-off
    "choose",
)
_KINDS = {
    (var, compound): _SIMPLE + ("set",) * var + _COMPOUND * compound
    for var in (False, True)
    for compound in (False, True)
}


def _step(draw: st.DrawFn, ctx: _Ctx, depth: int) -> Step:
    kind = _pick(draw, _KINDS[ctx.has_var, depth < _MAX_DEPTH and ctx.budget >= 2])
    ctx.budget -= 1
    step_id = _id(draw, ctx)
    inner = depth + 1
    match kind:
        case "send":
            return _send(draw, ctx, step_id)
        case "wait":
            return Wait(_duration(draw, ctx), step_id)
        case "wait_until":
            if _chance(draw, 3):
                return WaitUntil(TimeLit("09:00"), step_id, next=_days(_pick(draw, _DAY_LISTS)))
            return WaitUntil(_pick(draw, _WAIT_UNTIL), step_id)
        case "ticket":
            payload = (
                Param(Ident("reason"), StringLit("follow_up")),
                Param(Ident("card_id"), _attr("trigger", "card_id")),
            )
            ticket = Ticket(
                Ident(_pick(draw, ("telesales", "customer_care"))),
                _pick(draw, _PRIORITIES),
                payload[: draw(st.integers(0, 2))],
                step_id,
            )
            if depth >= _MAX_DEPTH or ctx.in_parallel or not _chance(draw, 3):
                return ticket
            # ticket exits (accepted / not accepted); a branch of a parallel block is JD805
            accepted = _block(draw, ctx, inner, hi=2) if draw(st.booleans()) else None
            not_accepted = _block(draw, ctx, inner, hi=2) if draw(st.booleans()) else None
            if accepted is None and not_accepted is None:
                accepted = ()
            return replace(ticket, accepted=accepted, not_accepted=not_accepted)
        case "update":
            attribute, value = _pick(draw, _UPDATES)
            return Update(Ident(attribute), value, step_id)
        case "tag":
            return Tag(Ident(_pick(draw, ("vip", "dormant"))), draw(st.booleans()), step_id)
        case "action":
            if _chance(draw, 3):  # reward budgets: drawn from a money budget or a quota
                return _budgeted_reward(draw, ctx, inner, step_id)
            if draw(st.booleans()):
                return Action("reward", Ident("annual_fee_waiver"), (), step_id)
            params = (Param(Ident("reason"), _string_value(draw, ctx)),)
            return Action("action", Ident("notify_crm"), params, step_id)
        case "set":
            return Set(Ident(_VAR), _string_value(draw, ctx), step_id)
        case "if":
            cond = draw(conditions)
            then = _block(draw, ctx, inner, lo=1)
            return If(cond, then, _block(draw, ctx, inner), step_id)
        case "wait_for":
            target, where = _pick(draw, _AWAITED)
            if where == _OFFER_IS_VAR and not ctx.has_var:
                where = Binary("==", _attr("offer_registered", "offer"), StringLit("tiki_voucher"))
            timeout = Timeout("within", _duration(draw, ctx))
            then = _block(draw, ctx, inner)
            bind = None
            if target == Name("transaction") and _chance(draw, 2):  # wait for … as NAME
                ctx.ids += 1
                bind = Ident(f"tx{ctx.ids}")
                where = Binary(">=", _attr(bind.name, "amount"), MoneyLit("500_000", "VND"))
                note = Param(Ident("merchant"), _attr(bind.name, "merchant"))
                then = (Ticket(Ident("customer_care"), None, (note,)), *then)
            on_timeout = _block(draw, ctx, inner)
            return WaitFor(target, where, timeout, then, on_timeout, step_id, bind=bind)
        case "wait_first":
            return _wait_first(draw, ctx, inner, step_id)
        case "switch":
            return _switch(draw, ctx, inner, step_id)
        case "split":
            return _split(draw, ctx, inner, step_id)
        case "parallel" if not ctx.in_parallel:
            return _parallel(draw, ctx, inner, step_id)
        case "during" if not ctx.in_parallel:
            return _during(draw, ctx, inner, step_id)
        case "parallel" | "during":  # (a block inside a block is JD804)
            return Wait(_duration(draw, ctx), step_id)
        case "decide":
            return _decide(draw, ctx, inner, step_id)
        case "enter":  # hand-off to examples/activation_call.journey
            return _enter(draw, ctx, inner, step_id)
        case "include":  # the fragment examples/remind_activation.fragment
            ctx.outcomes.append("activated")  # (its wait's exit)
            values = (
                Param(Ident("days"), _duration(draw, ctx)),
                Param(Ident("round"), NumberLit(str(draw(st.integers(1, 3))))),
            )
            return Include(Ident("remind_activation"), values, id=step_id)
        case "choose":
            return _choose(draw, ctx, inner, step_id)
        case _:
            return _repeat(draw, ctx, inner, step_id)


def _budgeted_reward(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Action:
    """A reward drawn from a budget (the example catalog's fee_waivers, money, or welcome_gifts,
    a quota), with or without each exit."""
    money = draw(st.booleans())
    return Action(
        "reward",
        Ident("annual_fee_waiver" if money else "welcome_gift"),
        (),
        step_id,
        budget=Ident("fee_waivers" if money else "welcome_gifts"),
        amount=MoneyLit(_pick(draw, ("500_000", "1_250_000")), "VND") if money else None,
        granted=_block(draw, ctx, inner) if draw(st.booleans()) else None,
        exhausted=_block(draw, ctx, inner) if draw(st.booleans()) else None,
    )


def _decide(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Decide:
    """A decision call (its answer in a variable of its own), with or without a timeout, a
    retry policy and each failure exit (an empty block goes on without the answer)."""
    ctx.ids += 1
    function = _pick(draw, ("credit.preapproved_limit", "kyc.is_current"))
    return Decide(
        Ident(f"answer{ctx.ids}"),
        Ident(function),
        (Param(Ident("customer"), Name("customer_id")),),
        timeout=_pick(draw, (None, DurationLit("2s"))),
        retry=_pick(draw, (None, 0, 3)),
        every=_pick(draw, (None, DurationLit("10m"))),
        on_error=_block(draw, ctx, inner) if draw(st.booleans()) else None,
        on_timeout=_block(draw, ctx, inner) if _chance(draw, 3) else None,
        id=step_id,
    )


def _enter(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Enter:
    """A hand-off to the example activation_call (the compile's folder is examples/), with the
    values it expects, with or without a `not entered` block (empty or not)."""
    args = (
        Param(Ident("card_id"), _attr("trigger", "card_id")),
        Param(Ident("reason"), _string_value(draw, ctx)),
    )
    way = _pick(draw, ("none", "empty", "block"))
    refused: Steps | None = None if way == "none" else ()
    if way == "block":
        refused = _block(draw, ctx, inner, hi=2)
    return Enter(Ident("activation_call"), args, not_entered=refused, id=step_id)


def _choose(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> ChooseOffer:
    """A pick from one of the example offer catalogues (the offer in a variable of its own),
    with or without a `none` block (an empty one goes on without an offer)."""
    ctx.ids += 1
    catalogue = _pick(draw, ("reactivation", "card_offers"))
    none = _block(draw, ctx, inner) if draw(st.booleans()) else None
    # (the catalogue in the name: branches number their ids alike, and one variable holds
    # the offers of one catalogue only, JD301)
    name = Ident(f"chosen{ctx.ids}_{catalogue}")
    return ChooseOffer(name, Ident(catalogue), none, id=step_id)


def _wait_first(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> WaitFirst:
    """Distinct awaited events or conditions (a repeated branch is JD507), one block each."""
    picked = draw(st.lists(st.integers(0, len(_AWAITED) - 1), min_size=1, max_size=3, unique=True))
    branches = []
    for i in picked:
        target, where = _AWAITED[i]
        if where == _OFFER_IS_VAR and not ctx.has_var:
            where = Binary("==", _attr("offer_registered", "offer"), StringLit("tiki_voucher"))
        steps = _block(draw, ctx, inner, hi=2)
        if isinstance(target, Name):
            branches.append(FirstBranch(Ident(target.name), where, None, steps))
        else:
            branches.append(FirstBranch(None, None, target, steps))
    timeout = Timeout("within", draw(_durations))
    return WaitFirst(tuple(branches), timeout, _block(draw, ctx, inner, hi=2), step_id)


def _switch(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Switch:
    values: list[Expr]
    if bool(ctx.counters) and draw(st.booleans()):
        subject: Expr = Name(ctx.counters[-1])
        values = [NumberLit(str(i)) for i in range(1, 5)]
    else:
        subject = _attr("profile", "segment")
        values = [StringLit(s) for s in _SEGMENTS]
    # Distinct values, dealt round-robin into one or two cases.
    turn = draw(st.integers(0, len(values) - 1))
    values = values[turn:] + values[:turn]
    n_cases = draw(st.integers(1, 2))
    cut = draw(st.integers(n_cases, len(values)))
    groups = [values[i:cut:n_cases] for i in range(n_cases)]
    cases = tuple(Case(tuple(g), _block(draw, ctx, inner, lo=1, hi=2)) for g in groups)
    return Switch(subject, cases, _block(draw, ctx, inner, hi=2), step_id)


def _split(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Split:
    first = draw(st.integers(1, 98))
    weights = [first, 100 - first]
    if _chance(draw, 3):
        second = draw(st.integers(1, 99 - first))
        weights = [first, second, 100 - first - second]
    arms = tuple(Arm(Decimal(w), _block(draw, ctx, inner, hi=2)) for w in weights)
    return Split(arms, None, step_id, _pick(draw, ("customer", "entry")))


def _repeat(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Repeat:
    counter = None
    if draw(st.booleans()):
        counter = "round" if not ctx.counters else f"round_{len(ctx.counters) + 1}"
    until = draw(conditions) if draw(st.booleans()) else None
    ctx.budget -= 1
    wait = Wait(_duration(draw, ctx))  # every loop waits
    if counter:
        ctx.counters.append(counter)
    ctx.in_repeat += 1
    body = (wait, *_block(draw, ctx, inner, hi=2))
    ctx.in_repeat -= 1
    if counter:
        ctx.counters.pop()
    rounds = draw(st.integers(1, 5))
    return Repeat(rounds, body, Ident(counter) if counter else None, until, step_id)


def _parallel(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> Parallel:
    """Two or three branches that each start with a wait (a branch of `parallel first` that
    never waits is JD802), set no variable (JD801: two branches setting one) and never exit
    (JD803: a join that cannot complete)."""
    has_var, ctx.has_var, ctx.in_parallel = ctx.has_var, False, True
    ctx.in_repeat += 1  # (no exits in the branches)
    branches = []
    for _ in range(draw(st.integers(2, 3))):
        ctx.budget -= 1
        wait = Wait(_duration(draw, ctx))
        branches.append(ParallelBranch((wait, *_block(draw, ctx, inner, hi=2))))
    ctx.in_repeat -= 1
    ctx.has_var, ctx.in_parallel = has_var, False
    return Parallel(_pick(draw, ("all", "first")), tuple(branches), step_id)


# ---------------------------------------------------------------- during (interrupting handlers)


def _during(draw: st.DrawFn, ctx: _Ctx, inner: int, step_id: Ident | None) -> During:
    """A body that starts with a wait (a body that never waits is JD802) and one or two handlers
    on distinct events or conditions, each with steps that do not wait (JD105): a tag or a ticket,
    or for a purchase, `as NAME` read in its filter and its ticket."""
    ctx.in_parallel = True  # (no parallel, during or break inside: JD804, JD105)
    ctx.budget -= 1
    body = (Wait(_duration(draw, ctx)), *_block(draw, ctx, inner, hi=2))
    ctx.in_parallel = False
    picked = draw(st.lists(st.integers(0, len(_AWAITED) - 1), min_size=1, max_size=2, unique=True))
    handlers = []
    for i in picked:
        target, where = _AWAITED[i]
        if where == _OFFER_IS_VAR and not ctx.has_var:
            where = Binary("==", _attr("offer_registered", "offer"), StringLit("tiki_voucher"))
        steps: Steps = (Tag(Ident("dormant"), True),) if _chance(draw, 2) else ()
        if not isinstance(target, Name):
            handlers.append(DuringHandler(WaitFor(target, then=steps), True))
            continue
        bind = None
        if target == Name("transaction") and _chance(draw, 2):
            ctx.ids += 1
            bind = Ident(f"tx{ctx.ids}")
            where = Binary(">=", _attr(bind.name, "amount"), MoneyLit("500_000", "VND"))
            note = Param(Ident("merchant"), _attr(bind.name, "merchant"))
            steps = (Ticket(Ident("customer_care"), None, (note,)), *steps)
        handlers.append(DuringHandler(WaitFor(target, where, then=steps, bind=bind), False))
    return During(body, tuple(handlers), step_id)


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    """Random journeys, well-typed against the example catalogs, entered on ``card_issued``."""
    ctx = _Ctx(has_var=draw(st.booleans()), has_param=draw(st.booleans()))
    steps: Steps = ()
    if ctx.has_var:  # declares the string variable before any use
        ctx.budget -= 1
        steps = (Set(Ident(_VAR), StringLit(_pick(draw, _STRINGS))),)
    steps += _block(draw, ctx, 0, lo=1, hi=5)
    goals = [g for g in _GOALS if _chance(draw, 4)]
    used = [*ctx.outcomes, *(g.outcome.name for g in goals)]
    entry = Entry(
        "event",
        Ident("card_issued"),
        where=Binary("==", _attr("trigger", "product"), StringLit("gold"))
        if _chance(draw, 3)
        else None,
        key=_attr("trigger", "card_id") if _chance(draw, 3) else None,
        reentry=_pick(draw, _REENTRIES),
    )
    quiet = [Ident(c) for c in _QUIET_CHANNELS if draw(st.booleans())]
    return Journey(
        name=Ident(_pick(draw, ("onboarding", "reactivation", "journey_2"))),
        version=draw(st.integers(1, 3)),
        entry=entry,
        steps=steps,
        title=_pick(draw, _TITLES),
        events_catalog=StringLit("events.yaml"),
        templates_catalog=StringLit("templates.yaml"),
        timezone=StringLit("Asia/Ho_Chi_Minh") if draw(st.booleans()) else None,
        outcomes=tuple(Ident(o) for o in dict.fromkeys(used)),
        quiet_hours=(
            (QuietHours(tuple(quiet), TimeLit("21:00"), TimeLit("08:00")),) if quiet else ()
        ),
        fallback=(_JOURNEY_FALLBACK,) if draw(st.booleans()) else (),
        goals=tuple(goals),
        send_windows=_send_windows(draw),
        params=(
            (Param(Ident(_PARAM), draw(_durations)), *_extra_params(draw)) if ctx.has_param else ()
        ),
    )


def _send_windows(draw: st.DrawFn) -> tuple[SendWindow, ...]:
    channels = [Ident(c) for c in _QUIET_CHANNELS if _chance(draw, 2)]
    if not channels:
        return ()
    start, end = _pick(draw, (("08:00", "17:30"), ("20:00", "02:00"), ("00:00", "00:00")))
    days = _days(_pick(draw, _DAY_LISTS))
    return (SendWindow(tuple(channels), days, TimeLit(start), TimeLit(end)),)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule | None:
    """A segment's calendar (None: plain daily), valid for the compiler."""
    kind = _pick(draw, ("daily", "weekly", "monthly", "every", "anniversary", "plain"))
    first = draw(_calendar_dates)
    start = DateLit(first.isoformat()) if kind == "every" or _chance(draw, 2) else None
    end = (
        DateLit((first + timedelta(days=draw(st.integers(0, 800)))).isoformat())
        if _chance(draw, 2)
        else None
    )
    match kind:
        case "plain":
            return None
        case "weekly":
            return Schedule("weekly", days=_days(_pick(draw, _DAY_LISTS)), start=start, end=end)
        case "monthly":
            day = _pick(draw, ("1", "15", "29", "31", "last"))
            return Schedule("monthly", day=day, start=start, end=end)
        case "every":
            return Schedule("every", every=draw(st.integers(1, 60)), start=start, end=end)
        case "anniversary":
            of = _pick(draw, (_attr("profile", "card_opened_on"), _attr("profile", "birthday")))
            if _chance(draw, 2):
                return Schedule("anniversary", period="yearly", of=of, start=start, end=end)
            return Schedule("anniversary", period="monthly", of=of, start=start, end=end)
    if start is None and end is None:
        return None  # a plain daily is written `daily at`, with nothing to tell it apart
    return Schedule("daily", start=start, end=end)


@st.composite
def scheduled_journeys(draw: st.DrawFn) -> Journey:
    """Segment journeys on a random calendar, with send windows and `wait until next` steps."""
    at = draw(st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)))
    entry = Entry(
        "segment",
        condition=Aggregate("has", Name("card_activated")) if _chance(draw, 2) else BoolLit(True),
        at=TimeLit(at),
        reentry=_pick(draw, _REENTRIES),
        schedule=draw(schedules()),
    )
    steps: Steps = (
        WaitUntil(TimeLit(at), next=_days(_pick(draw, _DAY_LISTS))),
        Send(Ident("first_spend_nudge"), Ident("zns")),
    )
    return Journey(
        name=Ident("scheduled"),
        version=1,
        entry=entry,
        steps=steps,
        events_catalog=StringLit("events.yaml"),
        templates_catalog=StringLit("templates.yaml"),
        timezone=StringLit(_pick(draw, ("Europe/Berlin", "Asia/Ho_Chi_Minh"))),
        send_windows=_send_windows(draw),
    )


def _extra_params(draw: st.DrawFn) -> tuple[Param, ...]:
    """Parameters that nothing uses, of the other literal types."""
    out = []
    if draw(st.booleans()):
        out.append(Param(Ident("threshold"), MoneyLit("1_000_000", "VND")))
    if draw(st.booleans()):
        out.append(Param(Ident("label"), StringLit("spring")))
    return tuple(out)
