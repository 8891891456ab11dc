"""What each diagnostic code means, with an example that gives it and the fix: the text of
``journeydsl rule CODE`` and of the codes table in docs/cli.md.

Every code of :data:`~journeydsl.diagnostics.CODES` has an entry (a test enumerates them). An
example of kind ``steps`` is written after :data:`HEADER` (a journey that uses the example
catalogs), one of kind ``journey`` or ``yaml`` is a whole journey; the tests compile them all and
require the code. Examples of kind ``text`` (policy files, mappings, catalogs) are shown as they
are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["HEADER", "RULES", "Rule", "explain"]

#: The header a ``steps`` example is written after.
HEADER: Final = """\
journey example version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
"""


@dataclass(frozen=True, slots=True)
class Rule:
    """One code's explanation, an example that gives it, and how to fix it."""

    why: str
    example: str
    fix: str
    kind: Literal["steps", "journey", "yaml", "text"] = "steps"


# fmt: off
RULES: Final[dict[str, Rule]] = {
    "JD100": Rule(
        "The YAML file does not parse: an indentation, a missing ':' or an unclosed bracket.",
        "journey: example\nversion: 1\nentry: {event: card_issued\nsteps: []\n",
        "Close the flow mapping: `entry: {event: card_issued}`.", "yaml"),
    "JD101": Rule(
        "The journey text does not follow the DSL grammar; the message says what was expected.",
        "send email {\n",
        "Name the template after the channel: `send email welcome_activation_guide`."),
    "JD102": Rule(
        "A step (or header line) starts with a word that is no step kind.",
        "sned email new_cardholder_promotions\n",
        "Spell the step kind: send, wait, if, switch, split, repeat, ticket, update, tag, untag, "
        "reward, action, set or exit."),
    "JD103": Rule(
        "A YAML mapping has a key its step or section does not take.",
        "journey: example\nversion: 1\nentry: {event: card_issued}\nsteps:\n"
        "  - wait: 1d\n    timout: 2d\n",
        "Remove the key or spell it as the step takes it.", "yaml"),
    "JD104": Rule(
        "A YAML step or section lacks a key it needs.",
        "journey: example\nversion: 1\nsteps:\n  - wait: 1d\n",
        "Add the key: here `entry:` (e.g. `entry: {event: card_issued}` or `entry: manual`).",
        "yaml"),
    "JD105": Rule(
        "A YAML value has the wrong shape: a list where one value goes, a mapping for a name.",
        "journey: example\nversion: 1\nentry: {event: card_issued}\nsteps: {wait: 1d}\n",
        "Write steps as a list: `steps: [{wait: 1d}]`.", "yaml"),
    "JD106": Rule(
        "Two things share a name: step labels, outcomes, params of one send; or two files "
        "checked together define one journey name and version differently.",
        "a: wait 1d\na: wait 2d\n",
        "Give each step label its own name."),
    "JD107": Rule(
        "A duration has an unknown unit or is longer than a journey can wait.",
        "wait 3days\n",
        "Write a number and a unit: s, m, h, d or w (`wait 3d`)."),
    "JD108": Rule(
        "A time of day is not HH:MM with hours 00-23 and minutes 00-59.",
        "wait until 25:00\n",
        "Write a real time: `wait until 09:00`."),
    "JD109": Rule(
        "A catalog (events.yaml, templates.yaml) has a mistake, so it cannot be loaded.",
        "events:\n  transaction:\n    amount: money\n",
        "Give money its currency: `amount: {type: money, currency: VND}`.", "text"),
    "JD110": Rule(
        "A file cannot be read: missing, a folder, not UTF-8, or not a regular file.",
        'uses events "no_such_file.yaml"\n',
        "Name a file that exists, relative to the journey's folder.", "text"),
    "JD111": Rule(
        "An expression inside a YAML value does not parse.",
        "journey: example\nversion: 1\nentry: {event: card_issued}\nsteps:\n"
        "  - if: count(transaction in last 30d) >\n    then: [{wait: 1d}]\n",
        "Complete the expression: `count(transaction in last 30d) > 0`.", "yaml"),
    "JD112": Rule(
        "The input passes a size limit: a file, a string, a nesting depth or a step count.",
        "(a journey of more than 2,000 steps, or an expression nested 200 deep)",
        "Split the journey, or write the expression flatter.", "text"),
    "JD113": Rule(
        "A catalog path leads outside the root folder, so it is not read.",
        'uses events "../../elsewhere/events.yaml"\n',
        "Keep catalogs inside the root, or give `--root` (or `root` in [tool.journeydsl]) a "
        "folder that holds the journey and its catalogs.", "text"),
    "JD114": Rule(
        "Names were not checked because their catalog could not be loaded (see the error on "
        "the catalog).",
        'uses events "broken_events.yaml"\n',
        "Fix the catalog's own error; the names are checked then.", "text"),
    "JD117": Rule(
        "A date, timestamp, day name or schedule that does not exist (a 30th of February, an "
        "unknown zone, a time past 23:59, a year outside 1900 to 2999, a schedule that can "
        "never run).",
        "if has(transaction since 2026-02-30) { exit done }\n",
        "Write a date of the calendar: `2026-02-28`, or `monthly on last day` for month ends.",
        "steps"),
    "JD118": Rule(
        "A fragment includes itself, directly or through another fragment: its expansion "
        "would never end; or fragments nest more than 10 deep.",
        "# a.fragment: fragment a() { include b() }  # b.fragment: fragment b() { include a() }\n",
        "Move the steps both need into a third fragment that includes neither.", "text"),
    "JD201": Rule(
        "An event type is not in the events catalog.",
        "if has(card_activatd since entry) { exit done }\n",
        "Use an event of the catalog: `card_activated`."),
    "JD202": Rule(
        "An event has no field of that name; the message lists its fields.",
        'if trigger.card_number == "x" { exit done }\n',
        "Read a field the event has: `trigger.card_id`."),
    "JD203": Rule(
        "A profile attribute is not in the catalog's attributes.",
        'if profile.segmnt == "mass" { exit done }\n',
        "Use a declared attribute: `profile.segment`."),
    "JD204": Rule(
        "A name is neither a variable, a loop counter nor a built-in.",
        "wait until activated_at + 7d\n",
        "Set the variable first (`set activated_at = now`) or use a built-in such as "
        "`entered_at`."),
    "JD205": Rule(
        "A send names a template the templates catalog does not have.",
        "send email welcome_activaton_guide\n",
        "Use a template of the catalog: `welcome_activation_guide`."),
    "JD206": Rule(
        "A channel is not one of email, sms, zns, push, inapp.",
        "send mail new_cardholder_promotions\n",
        "Write a channel journeydsl knows: `send email new_cardholder_promotions`."),
    "JD207": Rule(
        "An exit (or goal) names an outcome the journey does not declare.",
        "exit finished\n",
        "Declare it in `outcomes`, or exit with a declared one: `exit done`."),
    "JD208": Rule(
        "A variable is read on a path where it may not have been set yet.",
        "if has(card_activated since entry) { set x = 1 }\nset y = x\n",
        "Set the variable on every path before it is read (e.g. `set x = 0` first)."),
    "JD209": Rule(
        "A call names a function that does not exist.",
        "set h = hours(now)\n",
        "Call a built-in function: `hour(now)`."),
    "JD210": Rule(
        "The template has no version on the channel the send uses.",
        "send sms new_cardholder_promotions\n",
        "Send on a channel the template exists on (the hint lists them): `send email …`."),
    "JD211": Rule(
        "A fallback channel lacks the template, so the fallback cannot send it.",
        "send push first_spend_nudge fallback email\n",
        "Fall back to a channel the template has: `fallback zns`."),
    "JD212": Rule(
        "A name is used where it has no value: `trigger` without an event entry, an event's "
        "field outside an aggregate.",
        "set a = transaction.amount\n",
        "Read the field inside an aggregate: `sum(transaction.amount in last 30d)`."),
    "JD213": Rule(
        "A hand-off (`enter JOURNEY`) names a journey that is not in the same folder (in a file "
        "named after it), or one that is not entered manually.",
        "enter activation_cal\n",
        "Name a journey of the folder whose entry is `entry manual with { … }`: "
        "`enter activation_call with { … }`."),
    "JD214": Rule(
        "An `include` names no fragment of the journey's folder (a file NAME.fragment, or "
        "NAME.fragment.yaml).",
        "include remind_activaton(days: 3d)\n",
        "Name a fragment file next to the journey: `include remind_activation(days: 3d)`."),
    "JD215": Rule(
        "A `choose` step names an offer catalogue the events catalog's `offers:` lacks.",
        "choose best from reactivaton\n",
        "Name a declared catalogue: `choose best from reactivation`."),
    "JD216": Rule(
        "A reward draws from a budget the events catalog does not declare.",
        "reward annual_fee_waiver from fee_waiver amount 500_000 VND\n",
        "Declare it under `budgets:` in the events catalog, or name a declared one: "
        "`from fee_waivers`."),
    "JD301": Rule(
        "A value has the wrong type for where it is used.",
        'wait "3d"\n',
        "Write a value of the type the slot takes; the hint shows one (`wait 3d`)."),
    "JD302": Rule(
        "Two amounts in different currencies are compared or combined.",
        "if profile.credit_limit > 100 USD { exit done }\n",
        "Compare amounts in one currency: `100_000_000 VND`."),
    "JD303": Rule(
        "An amount of money is compared with or given as a plain number.",
        "if profile.credit_limit > 1000000 { exit done }\n",
        "Write the amount with its currency: `1_000_000 VND`."),
    "JD304": Rule(
        "A condition is not true or false.",
        "if count(transaction in last 30d) { exit done }\n",
        "Compare it: `count(transaction in last 30d) > 0`."),
    "JD305": Rule(
        "Two values of different types are compared.",
        'if sum(transaction.amount in last 30d) >= "1000000" { exit done }\n',
        "Drop the quotes and give the currency: `>= 1_000_000 VND`."),
    "JD306": Rule(
        "A string is compared with an enum field but is not one of its values.",
        'if has(transaction where transaction.category == "food" in last 30d) { exit done }\n',
        "Use one of the enum's values (the hint lists them): `\"dining\"`."),
    "JD307": Rule(
        "A send's category (marketing / transactional) differs from its template's.",
        "send email new_cardholder_promotions transactional\n",
        "Use the template's category; it decides consent and quiet hours."),
    "JD308": Rule(
        "A value can grow past a size limit when the journey runs (a string or number built "
        "from itself in a loop).",
        'set s = "ab"\nrepeat max 60 until false {\n  wait 1d\n  set s = s + s\n}\n',
        "Bound the growth: cap the loop lower, or do not build a value from itself."),
    "JD309": Rule(
        "An optional profile attribute (some profiles lack it) is read without a fallback.",
        "set target = profile.spend_target\n",
        "Give a fallback: `default(profile.spend_target, 0 VND)`, or a `default:` in the "
        "catalog."),
    "JD401": Rule(
        "A send lacks a param its template needs.",
        "send email welcome_activation_guide { card_id: trigger.card_id }\n",
        "Give every param the template declares: add `product: trigger.product`."),
    "JD402": Rule(
        "A send gives a param its template does not declare.",
        "send push activation_reminder { round: 1, urgent: true }\n",
        "Remove the param, or declare it in templates.yaml."),
    "JD403": Rule(
        "A param's value has the wrong type for the template.",
        'send push activation_reminder { round: "one" }\n',
        "Give the declared type: `round: 1`."),
    "JD501": Rule(
        "A step can never be reached (it follows an exit on every path).",
        "exit done\nwait 1d\n",
        "Remove the step, or move it before the exit."),
    "JD502": Rule(
        "A loop can go round without waiting, so it would spin on one instant.",
        "repeat max 5 until false {\n  set x = 1\n}\n",
        "Put a wait in the loop's body."),
    "JD503": Rule(
        "A wait for an event or condition has no timeout, so the customer may wait forever. "
        "(A handler of a `during` block lasts as long as its body and is not reported.)",
        "wait for card_activated\n",
        "Give it a timeout: `wait for card_activated until entered_at + 14d timeout { … }`."),
    "JD504": Rule(
        "A condition is always true or always false, so one branch never runs.",
        "if 1 > 2 { exit done }\n",
        "Test something about the customer, or remove the branch."),
    "JD505": Rule(
        "The weights of a split (with its holdout) do not add up to 100%.",
        "split {\n  60% { wait 1d }\n  30% { wait 2d }\n}\n",
        "Make the arms (and holdout) add up to 100%."),
    "JD506": Rule(
        "A declared outcome is never used by an exit or a goal.",
        'journey example version 1\nuses events "events.yaml"\noutcomes done, lapsed\n'
        "entry on card_issued\nexit done\n",
        "Use the outcome (here `lapsed`) in an exit or goal, or remove it from `outcomes`.",
        "journey"),
    "JD507": Rule(
        "A branch of a `wait first` (or a handler of a `during` block) waits for what an "
        "earlier one already waits for: the earlier one always wins, so this one can never run.",
        "wait first within 7d {\n  on card_activated { exit done }\n"
        "  on card_activated { exit done }\n  timeout { exit done }\n}\n",
        "Remove the repeated branch, or narrow the earlier one with `where` so both can win."),
    "JD508": Rule(
        "A chain of hand-offs leads back to the journey it starts from: only the journeys' "
        "re-entry rules stop a customer going round it.",
        "# a.journey: enter b      # b.journey: enter a\n",
        "Break the cycle, or make sure one journey of it is `reentry once` or "
        "`reentry after …`.", "text"),
    "JD601": Rule(
        "The contact-policy file has a mistake and cannot be loaded.",
        "quiet_hours:\n  - {from: '21:00', too: '08:00'}\n",
        "Fix the key or value named (here `to:`); see docs/policies.md.", "text"),
    "JD602": Rule(
        "The journey can send more messages in a window than a frequency cap allows.",
        "frequency_caps:\n  - {name: one_a_week, categories: [marketing], max: 1, window: 7d}\n",
        "Space the sends out, or raise the cap if the bank allows it.", "text"),
    "JD603": Rule(
        "A marketing template's text lacks the label the policies require (e.g. [QC] on SMS, "
        "Decree 91/2020/ND-CP).",
        "templates:\n  promo:\n    category: marketing\n    channels: [sms]\n"
        '    text: "Spend 1,000,000 VND for cashback"\n',
        'Start the text with the label: `text: "[QC] Spend …"`.', "text"),
    "JD604": Rule(
        "A send on a channel whose consent is commonly absent (push, zns) has no fallback.",
        "send push first_spend_nudge\n",
        "Add a fallback: `fallback zns -> sms`, or a journey-wide `fallback` line.", "text"),
    "JD605": Rule(
        "A template marked transactional carries marketing content (an offer in its text).",
        "templates:\n  reminder:\n    category: transactional\n    channels: [sms]\n"
        '    text: "Activate your card and get 10% cashback"\n',
        "Mark the template marketing (consent, quiet hours and [QC] then apply).", "text"),
    "JD606": Rule(
        "A ticket waits for its queue's decision (accepted / not accepted), but the policies "
        "give the queue no daily capacity: every ticket is accepted at once.",
        "ticket retention accepted { exit done } not accepted { tag missed }\n"
        "(with no `retention` under `queues:` in the policy file)\n",
        "Give the queue a capacity (`queues: [{queue: retention, capacity: 100}]`), or drop the "
        "exits.", "text"),
    "JD607": Rule(
        "At its entry rate, a journey's worst-case messages on a throughput limit's channels "
        "exceed what the limit lets through in a day: the messages will wait for days.",
        "throughput:\n  - {name: sms_gateway, channels: [sms], max: 1000, per: 1h}\n"
        "entry_rates:\n  - {journey: dormant_reactivation, max: 10000, per: 1d}\n",
        "Lower the entry rate, send fewer messages on those channels, or raise the limit.",
        "text"),
    "JD608": Rule(
        "A ticket goes to a queue that ranks its tickets by a payload field (`rank` in the "
        "policy file) whose name the ticket's payload misspells, or that it gives as something "
        "other than a number or an amount: its tickets rank last at every release.",
        "queues:\n  - {queue: telesales, capacity: 300, rank: spend_356d}\n"
        "(and `ticket telesales { spend_365d: sum(transaction.amount in last 365d) }`)\n",
        "Give the ticket the field the queue ranks by, as a number or an amount, or fix the "
        "misspelt name.", "text"),
    "JD609": Rule(
        "An entry rate (`entry_rates` in the policy file) names a journey that enters customers "
        "on an event, from code or on a change, not by a segment: the rate never applies.",
        "entry_rates:\n  - {journey: onboarding_new_cardholder, max: 1000, per: 1h}\n"
        "(onboarding_new_cardholder enters `on card_issued`)\n",
        "Spread the journey's messages with a channel `throughput` limit instead, or drop the "
        "rate.", "text"),
    "JD610": Rule(
        "The policy file names a journey id (in a cap's `journeys`, an override under "
        "`journeys:` or an entry rate) that none of the journeys checked has: what it says for "
        "that journey never applies.",
        "frequency_caps:\n  - {name: layering, journeys: [lifecycle_low_frequncy], max: 1, "
        "window: 24h}\n",
        "Correct the id (here `lifecycle_low_frequency`), or check the policy file with every "
        "journey the engine runs.", "text"),
    "JD611": Rule(
        "A send's quiet hours and send windows on a channel (the journey's and the policy "
        "file's) never leave a time open together: the runtime suppresses the message there.",
        "send window weekday 09:00 to 10:00 for sms\n"
        "(with `send_windows: [{channels: [sms], days: weekend, from: '09:00', to: '12:00'}]` "
        "in the policy file)\n",
        "Make the windows overlap, outside the quiet hours, or give the channel one window.",
        "text"),
    "JD701": Rule(
        "A step where a running instance can wait is not mapped to the new version.",
        "migrate: onboarding_new_cardholder\nfrom_version: 1\nto_version: 2\nsteps: {}\n",
        "Map every waiting step (`journeydsl graph` shows the ids).", "text"),
    "JD702": Rule(
        "The mapping names a step that is not in the journey.",
        "steps:\n  no_such_step: remind_wait\n",
        "Use the step ids `journeydsl graph --format json` prints.", "text"),
    "JD703": Rule(
        "A waiting step is mapped to a step that waits differently (a timer to an event wait).",
        "steps:\n  wait_until: remind_wait\n",
        "Map a wait to a wait of the same kind.", "text"),
    "JD704": Rule(
        "A variable the new version reads is not carried over from the old one.",
        "(the new version reads `round`, which version 1 never set)",
        "Set the variable in the new version before it is read, or carry it over.", "text"),
    "JD705": Rule(
        "The mapping's journey or versions do not match the journeys given.",
        "migrate: dormant_reactivation\nfrom_version: 1\nto_version: 2\n",
        "Name the journey and the two versions being migrated.", "text"),
    "JD706": Rule(
        "A waiting step is mapped to a step of the new version from which the instance runs "
        "sends, tickets or actions (by the ids of the old version's steps) that it could not "
        "reach from where it waited: it passed them already, so they happen a second time, "
        "under the new version's keys (a warning: a repeat may be meant).",
        "steps:\n  wait_for_card_activated_2: remind_wait   # back before the reminders\n",
        "Map the wait to a step after those effects, or give a step that is meant to run again "
        "a new id.", "text"),
    # parallel (concurrent paths)
    "JD801": Rule(
        "Two branches of one parallel block set the same variable: which value is kept would "
        "depend on which branch ran last. (Under `parallel first`, a set that ends its branch "
        "wins the block, so only sets a wait follows count.)",
        "parallel all {\n  branch { wait 1d  set offer = 1 }\n"
        "  branch { wait 2d  set offer = 2 }\n}\n",
        "Set the variable in one branch only, or give each branch its own variable."),
    "JD802": Rule(
        "In `parallel first`, a branch that never waits ends at once and wins: the branches "
        "written after it are cancelled before they start. Likewise the handlers of a `during` "
        "block whose body never waits can never run.",
        "parallel first {\n  branch { tag seen }\n  branch { wait 1d }\n}\n",
        "Give the first branch a wait, or write its steps before the block."),
    "JD803": Rule(
        "The join can never complete: with `parallel all` a branch always ends the journey "
        "with `exit` (an exit in a branch ends the whole instance), or with `parallel first` "
        "every branch does.",
        "parallel all {\n  branch { wait 1d  exit done }\n  branch { wait 2d }\n}\n",
        "Exit after the join, or use `parallel first` so the first branch to end wins."),
    "JD804": Rule(
        "A parallel block inside a branch of another parallel block, or a parallel or during "
        "block inside a during block; nesting is not supported.",
        "parallel all {\n  branch {\n    parallel all {\n      branch { wait 1d }\n"
        "      branch { wait 2d }\n    }\n  }\n  branch { wait 3d }\n}\n",
        "Add its branches to the outer block, or run it after the join."),
    "JD805": Rule(
        "A ticket with `accepted` / `not accepted` exits inside a branch of a parallel block "
        "or the body of a during block; a branch cannot wait for a queue's decision.",
        "parallel all {\n  branch { ticket telesales not accepted { tag missed } }\n"
        "  branch { wait 1d }\n}\n",
        "Open the ticket before the block or after the join, or drop its exits."),
}
# fmt: on


def explain(code: str) -> str:
    """The text of ``journeydsl rule CODE``: the code's meaning, why it is reported, an example
    and the fix. ``code`` must be a key of :data:`RULES`."""
    from journeydsl.diagnostics import CODES

    rule = RULES[code]
    lines = [f"{code}: {CODES[code]}", "", rule.why, "", "Example"]
    if rule.kind == "steps":
        lines[-1] += " (in a journey that uses the example catalogs):"
    else:
        lines[-1] += ":"
    lines.extend("    " + line for line in rule.example.rstrip("\n").splitlines())
    lines.extend(["", f"Fix: {rule.fix}", ""])
    return "\n".join(lines)
