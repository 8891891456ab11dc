"""The YAML form of a journey, declared as data.

Every mapping the YAML form allows (the journey header, each step kind, the entry kinds and the
small records inside them) is a :class:`Shape`: its keys, the kind of value each key takes, which
keys are required, a one-line description and an example. The YAML loader
(:mod:`journeydsl.syntax.yaml_loader`) reads documents by walking these tables, and the JSON Schema
(:mod:`journeydsl.syntax.schema`) is generated from them, so the two cannot drift apart.

A step is a mapping whose *head* key names its kind and carries its main value
(``send: welcome_activation_guide``); the other keys refine it (``channel: email``). The entry is
shaped the same way: ``event: card_issued``, ``segment: <condition>`` or ``manual: true`` is its
head.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ARM",
    "CASE",
    "DURING_HANDLER",
    "ENTRY_SHAPES",
    "FIRST_BRANCH_SHAPES",
    "GOAL",
    "HOLDOUT",
    "ID_KEY",
    "ITEM_SHAPES",
    "JOURNEY",
    "PARALLEL_BRANCH",
    "QUIET_HOURS",
    "SEND_WINDOW",
    "STEP_KINDS",
    "STEP_SHAPES",
    "USES",
    "Key",
    "Shape",
    "ValueKind",
]


from journeydsl.syntax.shape_base import (
    _STEPS,
    ID_KEY,
    K,
    Key,
    Shape,
    ValueKind,
    _params,
    _step,
)

_SEND = _step(
    Key("send", K.NAME, "The template to send.", True, "send: welcome_activation_guide"),
    "Send a template on a channel.",
    Key(
        "channel",
        K.NAME,
        "The channel to send on (email, sms, zns, push, inapp).",
        True,
        "channel: email",
    ),
    Key(
        "category",
        K.CATEGORY,
        "marketing or transactional; defaults to the template's.",
        example="category: marketing",
    ),
    _params("The template's parameters, name -> expression."),
    Key(
        "fallback",
        K.FALLBACK,
        "Channels to fall back to, in order, or none; overrides the journey's fallback.",
        example="fallback: [zns, sms]",
    ),
    Key(
        "tags",
        K.NAMES,
        "Labels of the message, recorded with it; caps scoped to a tag count it.",
        example="tags: [lapsed, promo]",
    ),
)
_WAIT = _step(
    Key("wait", K.EXPR, "How long to wait (a duration).", True, "wait: 3d"),
    "Wait for a duration.",
)
_WAIT_UNTIL = _step(
    Key(
        "wait_until",
        K.EXPR,
        "A timestamp, or a local time of day, to wait until.",
        True,
        "wait_until: activated_at + 7d",
    ),
    "Wait until a timestamp or the next local time of day.",
    Key(
        "next",
        K.NAMES,
        "Only on these days: day names, weekday or weekend (with a time of day).",
        example="next: weekday",
    ),
)
_WAIT_FOR = _step(
    Key(
        "wait_for",
        K.EXPR,
        "An event type to wait for, or a condition to become true.",
        True,
        "wait_for: card_activated",
    ),
    "Wait for an event or a condition, with an optional timeout.",
    Key(
        "as",
        K.NAME,
        "A name for the event that ends the wait, read as NAME.FIELD in the steps it runs.",
        example="as: tx",
    ),
    Key(
        "where",
        K.EXPR,
        "A filter on the awaited event.",
        example="where: offer_registered.offer == offer",
    ),
    Key("within", K.EXPR, "Give up after this duration.", example="within: 3d"),
    Key("until", K.EXPR, "Give up at this timestamp.", example="until: entered_at + 20d"),
    Key("then", K.STEPS, "Steps to run when it happens.", example="then: [exit: registered]"),
    Key(
        "timeout",
        K.STEPS,
        "Steps to run when the timeout passes.",
        example="timeout: [exit: not_activated]",
    ),
    exclusive=(("within", "until"),),
)
_WAIT_FIRST = _step(
    Key(
        "wait_first",
        K.BRANCHES,
        "The branches, each an event or a condition with its steps; the first to happen wins, "
        "at the same instant the first written.",
        True,
        "wait_first: [{event: card_activated, steps: [...]}, {when: profile.kyc_done}]",
        min_items=1,
    ),
    "Wait for the first of several events or conditions, with an optional timeout.",
    Key("within", K.EXPR, "Give up after this duration.", example="within: 7d"),
    Key("until", K.EXPR, "Give up at this timestamp.", example="until: entered_at + 20d"),
    Key(
        "timeout",
        K.STEPS,
        "Steps to run when the timeout passes first.",
        example="timeout: [exit: no_response]",
    ),
    exclusive=(("within", "until"),),
)
_IF = _step(
    Key("if", K.EXPR, "The condition.", True, "if: profile.has_digital_app"),
    "Branch on a condition.",
    Key("then", K.STEPS, "Steps to run when the condition holds.", example="then: [tag: vip]"),
    Key("else", K.STEPS, "Steps to run otherwise.", example="else: [untag: vip]"),
)
_SWITCH = _step(
    Key("switch", K.EXPR, "The value to branch on.", True, "switch: round"),
    "Branch on the value of an expression.",
    Key(
        "cases",
        K.CASES,
        "The cases, each with the values it matches and its steps.",
        True,
        "cases: [{case: 1, steps: [exit: done]}]",
        min_items=1,
    ),
    Key("else", K.STEPS, "Steps to run when no case matches.", example="else: [exit: done]"),
)
_SPLIT = _step(
    Key(
        "split",
        K.ARMS,
        "The weighted arms, each with a weight and steps.",
        True,
        "split: [{weight: 50%, steps: [...]}, {weight: 50%, steps: [...]}]",
        min_items=1,
    ),
    "Split customers at random (stably) by percentage.",
    Key(
        "holdout",
        K.HOLDOUT,
        "The control group: a weight, or {weight, steps}.",
        example="holdout: 10%",
    ),
    Key(
        "draw",
        K.DRAW,
        "per_customer (default: a customer always gets the same arm) or per_entry (each entry "
        "draws anew).",
        example="draw: per_entry",
    ),
)
_REPEAT = _step(
    Key("repeat", K.INT, "The maximum number of rounds.", True, "repeat: 6"),
    "Repeat steps at most a number of times while a condition is false.",
    Key("as", K.NAME, "A name for the round number (1, 2, ...).", example="as: round"),
    Key(
        "until",
        K.EXPR,
        "Stop before a round when this holds.",
        example="until: has(card_activated since entry)",
    ),
    Key(_STEPS, K.STEPS, "The steps of one round.", True, "steps: [wait: 2d]"),
)
_TICKET = _step(
    Key("ticket", K.NAME, "The queue to open the ticket in.", True, "ticket: telesales"),
    "Open a ticket in a queue.",
    Key(
        "priority", K.EXPR, "low, normal, high or urgent (an expression).", example="priority: high"
    ),
    Key(
        "payload",
        K.PARAMS,
        "The ticket's fields, name -> expression.",
        example="payload: {card_id: trigger.card_id}",
    ),
    # ticket exits (accepted / not accepted)
    Key(
        "accepted",
        K.STEPS,
        "Wait for the queue's decision; steps to run when the queue takes the ticket.",
        example="accepted: [exit: called]",
    ),
    Key(
        "not_accepted",
        K.STEPS,
        "Wait for the queue's decision; steps to run when the queue does not take the ticket "
        "(queue_full).",
        example="not_accepted: [send: reactivation_offer, channel: sms]",
    ),
)
_UPDATE = _step(
    Key("update", K.NAME, "The profile attribute to set.", True, "update: preferred_channel"),
    "Set a profile attribute.",
    Key("value", K.EXPR, "The new value.", True, "value: '\"zns\"'"),
)
_TAG = _step(
    Key("tag", K.NAME, "The tag to add to the profile.", True, "tag: reactivated"),
    "Add a profile tag.",
)
_UNTAG = _step(
    Key("untag", K.NAME, "The tag to remove from the profile.", True, "untag: dormant"),
    "Remove a profile tag.",
)
_REWARD = _step(
    Key("reward", K.NAME, "The reward handler to call.", True, "reward: annual_fee_waiver"),
    "Grant a reward through a handler the host registers.",
    _params("The reward's parameters, name -> expression."),
    # reward budgets
    Key("from", K.NAME, "The budget the reward draws from.", example="from: fee_waivers"),
    Key(
        "amount",
        K.EXPR,
        "What one reward draws from a money budget (a quota's draw is one reward).",
        example="amount: 500_000 VND",
    ),
    Key(
        "granted",
        K.STEPS,
        "Steps to run when the budget granted the reward.",
        example="granted: [send: fee_waiver_granted, channel: email]",
    ),
    Key(
        "exhausted",
        K.STEPS,
        "Steps to run when the budget could not grant it (the reward is not given).",
        example="exhausted: [exit: budget_exhausted]",
    ),
)
_ACTION = _step(
    Key("action", K.NAME, "The custom action handler to call.", True, "action: notify_crm"),
    "Run a custom action through a handler the host registers.",
    _params("The action's parameters, name -> expression."),
)
_SET = _step(
    Key("set", K.NAME, "The journey variable to set.", True, "set: offer"),
    "Set a journey variable (the first set declares it).",
    Key("value", K.EXPR, "The value.", True, "value: '\"tiki_voucher\"'"),
)
_EXIT = _step(
    Key("exit", K.NAME, "The declared outcome to end with.", True, "exit: registered"),
    "End the journey with an outcome.",
)
# exit with a computed outcome
_EXIT_WITH = _step(
    Key(
        "exit_with",
        K.EXPR,
        "An expression choosing among the declared outcomes (string literals).",
        True,
        'exit_with: if tier2 then "tier2" else "none"',
    ),
    "End the journey with an outcome chosen by an expression.",
)

# -------------------------------------------------------------- enter: hand-off to another journey
_ENTER = _step(
    Key("enter", K.NAME, "The journey the customer enters.", True, "enter: activation_call"),
    "Enter the customer into another journey, passing the values its entry expects.",
    Key(
        "with",
        K.PARAMS,
        "The values the target's `entry manual with` expects, name -> expression.",
        example="with: {limit: offer.amount}",
    ),
    Key(
        "not_entered",
        K.STEPS,
        "Steps to run when the target's entry rules refuse the customer.",
        example="not_entered: [exit: already_called]",
    ),
)
# ---------------------------------------------------------------- fragments: include
_INCLUDE = _step(
    Key("include", K.NAME, "The fragment.", True, "include: remind_activation"),
    "Include the steps of a fragment, its params given values.",
    Key("with", K.PARAMS, "The fragment's params, name -> expression.", example="with: {days: 3d}"),
)
_WITH_INPUTS = Key(
    "with",
    K.PARAMS,
    "What a hand-off passes, name -> type (string, int, decimal, bool, money(VND), …).",
    example="with: {limit: money(VND), reason: string}",
)

# ---------------------------------------------------------------- decide: a decision call
_DECIDE = _step(
    Key("decide", K.NAME, "The variable that keeps the answer.", True, "decide: limit_offer"),
    "Call a decision function the host registers, and keep its typed answer.",
    Key(
        "call",
        K.STRING,
        "The decision function, as the catalog's decisions: name it.",
        True,
        "call: credit.preapproved_limit",
    ),
    Key(
        "args",
        K.PARAMS,
        "The function's params, name -> expression.",
        example="args: {customer: customer_id}",
    ),
    Key("timeout", K.EXPR, "How long one attempt may take (default 5s).", example="timeout: 2s"),
    Key("retry", K.INT, "Attempts after a failed one (default 2).", example="retry: 3"),
    Key("every", K.EXPR, "The wait between attempts (default 1m).", example="every: 30s"),
    Key(
        "on_error",
        K.STEPS,
        "Steps to run when the last attempt failed.",
        example="on_error: [exit: no_answer]",
    ),
    Key(
        "on_timeout",
        K.STEPS,
        "Steps to run when the last attempt timed out (default: those of on_error).",
        example="on_timeout: [exit: no_answer]",
    ),
)

# ---------------------------------------------------------------- choose: the offer catalogue
_CHOOSE = _step(
    Key("choose", K.NAME, "The variable that keeps the chosen offer.", True, "choose: best"),
    "Pick the best eligible offer of an offer catalogue, and keep it.",
    Key(
        "from",
        K.NAME,
        "The offer catalogue (offers: in the events catalog).",
        True,
        "from: reactivation",
    ),
    Key(
        "none",
        K.STEPS,
        "Steps to run when no offer is eligible and the catalogue has no fallback.",
        example="none: [exit: no_offer]",
    ),
)

# ---------------------------------------------------------------- parallel (concurrent paths)
_PARALLEL = _step(
    Key(
        "parallel",
        K.JOIN,
        "How the branches join: all (wait for every branch) or first (the first to end wins, "
        "the others are cancelled).",
        True,
        "parallel: all",
    ),
    "Run branches at the same time, and go on when they join.",
    Key(
        "branches",
        K.PARALLEL_BRANCHES,
        "The branches, each a list of steps, in written order.",
        True,
        "branches: [{steps: [wait_for: card_activated]}, {steps: [wait: 7d]}]",
        min_items=1,  # (one branch is JD105, from the checker, as in the DSL)
    ),
)
PARALLEL_BRANCH = Shape(
    "parallel branch",
    "One branch of a parallel block.",
    (Key(_STEPS, K.STEPS, "The steps of this branch.", True, "steps: [wait: 7d]"),),
)

# ---------------------------------------------------------------- during (interrupting handlers)
_DURING = _step(
    Key(
        "during",
        K.STEPS,
        "The body: steps that run while the handlers wait.",
        True,
        "during: [wait: 65d]",
    ),
    "Run steps; when a handler's event (or condition) happens first, run its steps, cancel the "
    "body and go on after the block.",
    Key(
        "handlers",
        K.HANDLERS,
        "The handlers, in written order (at one instant the first written wins).",
        True,
        "handlers: [{event: cancel_request, steps: [ticket: churn]}]",
        min_items=1,
    ),
)
DURING_HANDLER = Shape(
    "during handler",
    "One handler of a during step: an event (with an optional name and filter) or a condition.",
    (
        Key("event", K.NAME, "The event that interrupts the body.", example="event: cancel"),
        Key("when", K.EXPR, "The condition that interrupts the body.", example="when: x > 1"),
        Key("as", K.NAME, "A name for the event, read as NAME.FIELD.", example="as: req"),
        Key("where", K.EXPR, "A filter on the event.", example='where: req.reason != ""'),
        Key(_STEPS, K.STEPS, "Steps to run when it happens.", example="steps: [ticket: churn]"),
    ),
    exclusive=(("event", "when"),),
    one_of=("event", "when"),
)

#: Every step kind, by its head key, in the order the language reference lists them.
STEP_SHAPES: Mapping[str, Shape] = {
    s.head.name: s
    for s in (
        _SEND,
        _WAIT,
        _WAIT_UNTIL,
        _WAIT_FOR,
        _WAIT_FIRST,
        _IF,
        _SWITCH,
        _SPLIT,
        _REPEAT,
        _PARALLEL,
        _DURING,
        _TICKET,
        _UPDATE,
        _TAG,
        _UNTAG,
        _REWARD,
        _ACTION,
        _SET,
        _EXIT,
        _EXIT_WITH,
        _DECIDE,
        _ENTER,
        _INCLUDE,
        _CHOOSE,
    )
    if s.head is not None
}
#: The names of the step kinds.
STEP_KINDS: tuple[str, ...] = tuple(STEP_SHAPES)

CASE = Shape(
    "case",
    "One case of a switch.",
    (
        Key("case", K.EXPRS, "The values this case matches, comma-separated.", True, "case: 1, 4"),
        Key(_STEPS, K.STEPS, "The steps to run.", True, "steps: [exit: done]"),
    ),
)
ARM = Shape(
    "split arm",
    "One weighted arm of a split.",
    (
        Key("weight", K.WEIGHT, "The share of customers, a percentage.", True, "weight: 45%"),
        Key(_STEPS, K.STEPS, "The steps of this arm.", True, "steps: [send: ...]"),
    ),
)
HOLDOUT = Shape(
    "holdout",
    "The control arm of a split.",
    (
        Key(
            "weight",
            K.WEIGHT,
            "The share of customers held out, a percentage.",
            True,
            "weight: 10%",
        ),
        Key(
            _STEPS,
            K.STEPS,
            "Steps for the control group (usually none).",
            example="steps: [tag: control]",
        ),
    ),
)
USES = Shape(
    "uses",
    "The catalogs the journey is checked against, relative to the journey file.",
    (
        Key("events", K.STRING, "The events and profile catalog.", example="events: events.yaml"),
        Key("templates", K.STRING, "The templates catalog.", example="templates: templates.yaml"),
    ),
)
QUIET_HOURS = Shape(
    "quiet_hours item",
    "No sends on the channels between local times; due sends are deferred.",
    (
        Key("from", K.TIME, "The local time quiet hours start.", True, 'from: "21:00"'),
        Key("to", K.TIME, "The local time quiet hours end.", True, 'to: "08:00"'),
        Key("channels", K.NAMES, "The channels kept quiet.", True, "channels: [sms, zns, push]"),
    ),
)
SEND_WINDOW = Shape(
    "send_windows item",
    "Sends on the channels only on these days between local times; others wait for the opening.",
    (
        Key("days", K.NAMES, "Day names, weekday or weekend.", True, "days: weekday"),
        Key("from", K.TIME, "The local time the window opens.", True, 'from: "09:00"'),
        Key("to", K.TIME, "The local time the window closes.", True, 'to: "17:00"'),
        Key("channels", K.NAMES, "The channels it holds.", True, "channels: [email, sms]"),
    ),
)
GOAL = Shape(
    "goal",
    "An exit criterion checked on every event.",
    (
        Key("outcome", K.NAME, "The outcome to end with.", True, "outcome: reactivated"),
        Key("when", K.EXPR, "An event type, or a condition.", True, "when: transaction"),
        Key("where", K.EXPR, "A filter on the event.", example="where: transaction.amount > 0"),
        Key(
            _STEPS,
            K.STEPS,
            "Steps to run when the goal is reached, before the journey ends (no waits).",
            example="steps: [ticket: retention]",
        ),
    ),
)

_KEY = Key(
    "key",
    K.EXPR,
    "What identifies one instance per customer (default: the customer).",
    example="key: trigger.card_id",
)
_REENTRY = Key(
    "reentry",
    K.REENTRY,
    "once (default), always, or after DURATION.",
    example="reentry: after 180d",
)

_BRANCH_STEPS = Key(
    _STEPS, K.STEPS, "The steps to run when this branch wins.", example="steps: [exit: done]"
)
#: The branches of a ``wait_first``, by head key.
FIRST_BRANCH_SHAPES: Mapping[str, Shape] = {
    "event": Shape(
        "event branch",
        "An event to wait for, with an optional filter.",
        (
            Key("where", K.EXPR, "A filter on the event.", example="where: app_installed.os == 1"),
            _BRANCH_STEPS,
        ),
        head=Key("event", K.NAME, "The event type.", True, "event: card_activated"),
    ),
    "when": Shape(
        "condition branch",
        "A condition to wait for.",
        (_BRANCH_STEPS,),
        head=Key("when", K.EXPR, "The condition.", True, "when: profile.kyc_done"),
    ),
}

#: The entry kinds, by head key.
ENTRY_SHAPES: Mapping[str, Shape] = {
    "event": Shape(
        "event entry",
        "Enter on each event of a type.",
        (
            Key(
                "where",
                K.EXPR,
                "A filter on the event.",
                example='where: trigger.product == "gold"',
            ),
            _KEY,
            _REENTRY,
        ),
        head=Key("event", K.NAME, "The event type.", True, "event: card_issued"),
    ),
    "segment": Shape(
        "segment entry",
        "Enter the customers matching a condition, evaluated on a schedule.",
        (
            Key(
                "daily_at",
                K.TIME,
                "The local time the segment is evaluated every day.",
                example='daily_at: "09:00"',
            ),
            Key(
                "schedule",
                K.SCHEDULE,
                "When the segment is evaluated, in the words of the DSL.",
                example="schedule: weekly on mon, thu at 09:00 from 2026-01-05",
            ),
            _KEY,
            _REENTRY,
        ),
        exclusive=(("daily_at", "schedule"),),
        one_of=("daily_at", "schedule"),
        head=Key(
            "segment",
            K.EXPR,
            "The condition customers must match.",
            True,
            "segment: not has(transaction in last 90d)",
        ),
    ),
    "manual": Shape(
        "manual entry",
        "Enter only through Engine.enroll from host code, or by a hand-off (`enter`).",
        (_KEY, _REENTRY, _WITH_INPUTS),  # hand-off: the values a manual entry expects
        head=Key("manual", K.TRUE, "Must be true.", True, "manual: true"),
    ),
    "when": Shape(
        "entry on change",
        "Enter when a condition becomes true, checked on every event, on profile changes and "
        "when time alone can change it.",
        (_KEY, _REENTRY),
        head=Key(
            "when",
            K.EXPR,
            "The condition; the customer enters when it becomes true.",
            True,
            'when: profile.segment == "vip"',
        ),
    ),
}

#: The journey document itself.
JOURNEY = Shape(
    "journey",
    "A customer journey.",
    (
        Key("journey", K.NAME, "The journey's name.", True, "journey: onboarding"),
        Key("version", K.INT, "The journey's version (default 1).", example="version: 2"),
        Key("title", K.STRING, "A human title.", example="title: New cardholder onboarding"),
        Key(
            "uses",
            K.USES,
            "The events and templates catalogs.",
            example="uses: {events: events.yaml, templates: templates.yaml}",
        ),
        Key(
            "timezone",
            K.STRING,
            "The IANA time zone of local times.",
            example="timezone: Asia/Ho_Chi_Minh",
        ),
        Key(
            "outcomes",
            K.NAMES,
            "The outcomes the journey can end with.",
            example="outcomes: [registered, no_engagement]",
        ),
        Key("entry", K.ENTRY, "How customers enter.", True, "entry: {event: card_issued}"),
        Key(
            "quiet_hours",
            K.QUIET_HOURS,
            "Times when channels stay quiet.",
            example='quiet_hours: [{from: "21:00", to: "08:00", channels: [sms]}]',
        ),
        Key(
            "send_windows",
            K.SEND_WINDOWS,
            "Days and times when channels may send.",
            example='send_windows: [{days: weekday, from: "09:00", to: "17:00", channels: [sms]}]',
        ),
        Key("fallback", K.CHAINS, "Channel fallback chains.", example="fallback: [push, zns, sms]"),
        Key(
            "stale_after",
            K.EXPR,
            "How late a timer may fire and still send to the customer (default 24h).",
            example="stale_after: 12h",
        ),
        Key(
            "params",
            K.PARAMS,
            "Journey parameters: named literals that expressions use and that `simulate "
            "--param`/`--sweep` override.",
            example="params: {reminder_interval: 3d}",
        ),
        Key(
            "goals",
            K.GOALS,
            "Exit criteria checked on every event.",
            example="goals: [{outcome: reactivated, when: transaction}]",
        ),
        Key(_STEPS, K.STEPS, "The journey's steps.", True, "steps: [send: ...]"),
    ),
)

#: The record shape behind each value kind that holds mappings.
ITEM_SHAPES: Mapping[ValueKind, Shape] = {
    K.CASES: CASE,
    K.ARMS: ARM,
    K.HOLDOUT: HOLDOUT,
    K.USES: USES,
    K.QUIET_HOURS: QUIET_HOURS,
    K.GOALS: GOAL,
    K.SEND_WINDOWS: SEND_WINDOW,
    K.PARALLEL_BRANCHES: PARALLEL_BRANCH,
    K.HANDLERS: DURING_HANDLER,
}
