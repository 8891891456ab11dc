"""Delivery: hands due outbox entries to the host's channels, ticket sink and action handlers,
under the contact policies, with retries and channel fallback.

A message's attempt is a :class:`SendAttempt`: it walks the do-not-contact list and holdouts,
then the fallback chain, where each channel may lack consent or be unreachable (fall back), be
in quiet hours or over a frequency cap (defer or drop), deliver, or fail (retry, or fall
back). Every decision goes into the instance's decision log when the store keeps a contact
history, in the same transaction as the outbox update; an effect given up for good (suppressed,
or refused by its sink) goes into it in any case."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from journeydsl import ir
from journeydsl.runtime.codec import decode_map, plain
from journeydsl.runtime.decisions import extend, last_step, withheld
from journeydsl.runtime.history import history_window
from journeydsl.runtime.hostcalls import (
    INFO,
    OnAction,
    duration_setting,
    hand_over,
    host_call,
    iso,
    log,
    record,
)
from journeydsl.runtime.interpreter import describe_lateness
from journeydsl.runtime.policies.evaluator import Miss, PolicyEngine, Verdict
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.policies.throughput import throttle_for
from journeydsl.runtime.protocols import (
    ActionHandler,
    Channel,
    CommitHooks,
    Contact,
    ContactHistory,
    DeliveryResult,
    DeliveryStatus,
    EventStore,
    GroupCommit,
    Message,
    OutboxEntry,
    ProfileStore,
    StateStore,
    Ticket,
    TicketSink,
    keep_settled,
    live_reads,
)
from journeydsl.runtime.queues import TicketQueues
from journeydsl.runtime.records import DecisionEntry, InstanceRecord, SendPayload
from journeydsl.runtime.ticket_exits import decide
from journeydsl.zones import DEFAULT_TIMEZONE, zone

__all__ = ["PRUNE_EVERY", "Delivery", "RetryPolicy", "SendAttempt"]

#: How often (in engine time) the contact history is pruned, and the margin kept beyond the
#: longest frequency cap's window.
PRUNE_EVERY = timedelta(days=1)
#: Outbox entries fetched at a time by a delivery round.
_BATCH = 500
#: The same under channel throughput limits: the messages due at one instant take their turns
#: in one order over (up to) all of them, transactional first.
_THROTTLED_BATCH = 50_000

#: What a finished attempt adds to its outbox update: the contact it made, and the instance
#: whose decision log grew.
_Saved = tuple[Contact | None, InstanceRecord | None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for transient channel failures."""

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def __post_init__(self) -> None:
        duration_setting("RetryPolicy.base", self.base, optional=False)
        duration_setting("RetryPolicy.cap", self.cap, optional=False)
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(
                "RetryPolicy.max_attempts must be a whole number of 1 or more (1: no retry), "
                f"not {attempts!r}"
            )

    def delay(self, attempts: int) -> timedelta:
        """The wait before attempt number ``attempts + 1``."""
        delay: timedelta = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        return delay


class Delivery:
    """Delivers the outbox of one engine."""

    def __init__(
        self,
        *,
        versions: Mapping[tuple[str, int], ir.Journey],
        events: EventStore,
        profiles: ProfileStore,
        state: StateStore,
        channels: Mapping[str, Channel],
        tickets: TicketSink | None,
        actions: Mapping[str, ActionHandler],
        retry: RetryPolicy,
        on_action: OnAction | None,
        policies: Policies | PolicyEngine | None,
        scoped_to: Mapping[str, frozenset[tuple[str, int]]],
        stale_after: timedelta | None = None,
        on_contact: Callable[[Contact], bool] | None = None,
    ) -> None:
        self.versions = versions
        self.events = events
        self.profiles = profiles
        self.state = state
        #: How a delivery reads the instance it notes its decisions in.
        self.instance = live_reads(state)[0]
        self.channels = channels
        self.tickets = tickets
        self.actions = actions
        self.retry = retry
        self.on_action = on_action
        self.scoped_to = scoped_to
        self.stale_after = duration_setting("stale_after", stale_after)
        #: Told of every message delivered, once it is in the contact history (the engine's
        #: waits on ``sent(…)`` check their conditions again); whether an instance moved.
        self.on_contact = on_contact
        # Inside a transaction the host holds open (a batch), deliveries wait for its commit.
        self._after_commit: Callable[[Callable[[], None]], bool] | None = (
            state.after_commit if isinstance(state, CommitHooks) else None
        )
        self._group: Callable[[], AbstractContextManager[Any]] | None = (
            state.step if isinstance(state, GroupCommit) else None
        )
        #: Where an outbox update and its instance are written together (ticket exits).
        self._keeper = state if isinstance(state, ContactHistory) else None
        self._init_policies(policies)

    def _init_policies(self, policies: Policies | PolicyEngine | None) -> None:
        """``policies`` (a loaded policy file, or a :class:`PolicyEngine`) are evaluated for
        every delivery attempt. Without them the engine keeps its built-in behaviour (consent per
        channel, push only with the app, the journeys' own quiet hours) and notes in the
        decision log only the messages it suppresses; with them every decision goes into the
        instance's decision log and every delivered message into the store's contact history,
        which frequency caps count and which therefore needs a :class:`ContactHistory` state
        store (both built-in stores are)."""
        engine = policies if isinstance(policies, PolicyEngine) else PolicyEngine(policies)
        self.policy = engine
        self.history: ContactHistory | None = None
        # A journey that reads its messages back (sent(…)) needs the history kept, caps or not.
        sent_window = history_window(self.versions.values())
        if engine.configured or sent_window is not None:
            if not isinstance(self.state, ContactHistory):
                raise TypeError(
                    ("journeys that read sent(…) need" if sent_window else "contact policies need")
                    + " a state store with a contact history "
                    "(contacts() and record_delivery(), see ContactHistory); the built-in "
                    "memory and SQLite stores have one"
                )
            self.history = self.state
        # Contacts older than every cap's window (and a day) are pruned once a day, where the
        # store can (ContactHistory's optional prune_contacts).
        horizons = [w for w in (engine.history_horizon(), sent_window) if w is not None]
        self._horizon = max(horizons, default=None)
        self.prune_contacts: Callable[[datetime], int] | None = getattr(
            self.history, "prune_contacts", None
        )
        self._pruned_at: datetime | None = None
        #: Channel throughput limits (global: every journey's messages count).
        rules = engine.policies.throughput
        self.throttle = throttle_for(rules, self.history) if rules else None
        #: Ticket queues with a daily capacity.
        queues = engine.policies.queues
        self.queues = (
            TicketQueues(
                queues, self.state, self.scoped_to, self.on_action, self.instance, self.versions
            )
            if queues
            else None
        )

    def prune(self, now: datetime) -> None:
        """Delete the contacts no frequency cap can count any more (at most once a day)."""
        if self.prune_contacts is None or self._horizon is None:
            return
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - self._horizon - PRUNE_EVERY
        pruned = self.prune_contacts(before)
        if pruned and log.level <= INFO:
            log.info("contacts_pruned", contacts=pruned, before=iso(before))

    # ------------------------------------------------------------------ rounds

    def hand_out(self, now: datetime) -> int:
        """Deliver what is due at ``now`` once the state that made it is durable: at once, or,
        while the host holds a transaction open (a batch), when it commits."""
        if now.utcoffset() is None:  # (``engine.deliver(datetime.now())``: no instant)
            raise ValueError(f"deliveries need an aware time (with a UTC offset), not {now}")
        if self._after_commit is not None and self._after_commit(
            functools.partial(self._deliver_committed, now)
        ):
            return 0
        return self.deliver(now)

    @host_call
    def _deliver_committed(self, now: datetime) -> None:
        """The deliveries of a step, run by the store once the host's transaction committed."""
        self.deliver(now)

    def deliver(self, now: datetime) -> int:
        """Hand every entry due at ``now`` over; how many were settled.

        Where the store groups commits (:class:`GroupCommit`), the outcomes of a round are
        written in one transaction: one sync to disk for the round, not one per entry. Each
        outcome is saved before the next entry is tried, so a frequency cap sees the contacts
        made earlier in the round. A channel that raises stops the round: the outcomes saved
        before it are committed, and the exception reaches the host; an entry whose outcome was
        not committed (a crash) is handed over again, with the same idempotency key."""
        if self._group is None or not self.state.pending_outbox(now, 1, **self.scoped_to):
            return self._rounds(now)  # (nothing due: no transaction to open)
        return keep_settled(self._group, lambda: self._rounds(now))

    def _rounds(self, now: datetime) -> int:
        done = 0
        size = _BATCH if self.throttle is None else _THROTTLED_BATCH
        if self.throttle is not None:
            self.throttle.begin()
        while True:
            batch = self.state.pending_outbox(now, size, **self.scoped_to)
            if not batch:
                return done
            batch = self._by_priority(batch)
            progressed = False
            later = True  # every entry of the batch is settled, or waits for a later time
            for entry in batch:
                if self.queues is not None and self.queues.skips(entry.key, now):
                    continue  # (a queue's release settled it, from a newer copy)
                before = (
                    entry.status,
                    entry.not_before,
                    entry.attempts,
                    entry.payload.get("index"),
                )
                saved = self._deliver_one(entry, now)
                if self.queues is not None and self.queues.skips(entry.key, now):
                    progressed = True
                    continue
                self._save(entry, saved)
                after = (entry.status, entry.not_before, entry.attempts, entry.payload.get("index"))
                progressed = progressed or before != after
                done += entry.status != "pending"
                later = later and (entry.status != "pending" or entry.not_before > now)
                contact = saved[0] if saved is not None else None
                if contact is not None and self.on_contact is not None and self.on_contact(contact):
                    later = False  # (an instance moved: it may have queued messages due now)
            if not progressed or (later and len(batch) < size):
                return done  # (a short batch that all moved on leaves nothing due now)

    def _by_priority(self, batch: list[OutboxEntry]) -> list[OutboxEntry]:
        """The round's entries, the highest journey priority first (so that when frequency caps
        arbitrate, who goes first does not depend on the order of arrival); the store's order
        (due time, then key) among equal priorities. Under channel throughput limits,
        transactional messages go before all others: they take the first turns."""
        if not self.policy.configured:
            return batch
        priority = self.policy.priority
        if self.throttle is None:
            return sorted(batch, key=lambda e: -priority(str(e.payload.get("journey", ""))))
        return sorted(
            batch,
            key=lambda e: (
                e.payload.get("category") != "transactional",
                -priority(str(e.payload.get("journey", ""))),
            ),
        )

    def _save(self, entry: OutboxEntry, saved: _Saved | None) -> None:
        if saved is None:
            self.state.update_outbox(entry)
            return
        contact, inst = saved
        keeper = self.history or self._keeper
        if keeper is not None:
            keeper.record_delivery(entry, contact, inst)
            return
        if inst is not None:  # (a ticket's decision, on a store without record_delivery)
            self.state.commit([inst], [])
        self.state.update_outbox(entry)

    def _deliver_one(self, entry: OutboxEntry, now: datetime) -> _Saved | None:
        if entry.kind == "send":
            return SendAttempt(self, entry, now).run()
        p = entry.payload
        if entry.kind == "ticket" and self.queues and self.queues.take(entry, now, self._opened):
            return None  # (waits for its queue's release, or the release settled it)
        if entry.kind == "ticket":
            ticket = Ticket(
                entry.key,
                entry.customer_id,
                p["queue"],
                p["priority"],
                decode_map(p["payload"]),
                p["journey"],
                p["version"],
                p["node"],
                now,
                timedelta(seconds=p["late"]) if "late" in p else None,
            )
            result = (
                hand_over(self.tickets.open, ticket)
                if self.tickets
                else DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "no ticket sink configured")
            )
            fields = {
                "queue": p["queue"],
                "priority": p["priority"],
                "payload": plain(decode_map(p["payload"])),
            }
        else:
            handler = self.actions.get(p["name"])
            if handler is None:
                result = DeliveryResult(
                    DeliveryStatus.FAILED_PERMANENT, f"no handler registered for '{p['name']}'"
                )
            else:
                params = decode_map(p["params"])
                result = hand_over(handler, entry.key, entry.customer_id, params, now)
            fields = {"name": p["name"], "params": plain(decode_map(p["params"]))}
        kind = (
            "ticket"
            if entry.kind == "ticket"
            else ("reward" if p.get("action") == "reward" else "action")
        )
        if self.retried(entry, result, now):
            return None
        entry.status = "done" if result.status is DeliveryStatus.DELIVERED else "failed"
        customer, journey, node = entry.customer_id, p["journey"], p["node"]
        if "late" in p:
            fields["late"] = describe_lateness(timedelta(seconds=p["late"]))
        reason = f"{kind} failed: {result.detail}"
        delivered = entry.status == "done"
        if delivered:
            record(self.on_action, now, customer, journey, node, kind, **fields)
        else:
            record(self.on_action, now, customer, journey, node, "suppressed", reason=reason)
        if delivered and not p.get("exits"):
            return None
        inst = self.instance(p["instance"])
        if inst is not None and not delivered:  # (its decision log says what became of it)
            extend(inst, [withheld(now, node, entry.key, reason)])
        # ticket exits: its instance waits for this decision
        waits = bool(p.get("exits")) and decide(inst, entry, now, delivered, reason)
        return (None, inst) if waits or not delivered else None

    def _opened(self, entry: OutboxEntry, now: datetime) -> None:
        """Open a ticket its queue accepted, and save the outcome."""
        self._save(entry, self._deliver_one(entry, now))

    def retried(self, entry: OutboxEntry, result: DeliveryResult, now: datetime) -> bool:
        """Schedule another attempt after a transient failure, while attempts are left."""
        if (
            result.status is DeliveryStatus.FAILED_TRANSIENT
            and entry.attempts + 1 < self.retry.max_attempts
        ):
            entry.attempts += 1
            entry.not_before = now + self.retry.delay(entry.attempts)
            return True
        return False


class SendAttempt:
    """One delivery attempt of a message, under the contact policies: withheld altogether
    (superseded while held, holdout, do-not-contact list), or tried along its fallback chain.
    :meth:`run` changes the outbox entry (status, next attempt, place in the chain) and returns
    what must be saved with it; an exception leaves nothing to save, and the next attempt
    decides again."""

    def __init__(self, delivery: Delivery, entry: OutboxEntry, now: datetime) -> None:
        self.delivery = delivery
        self.entry = entry
        self.now = now
        p = self.p = cast(SendPayload, entry.payload)
        self.chain: list[str] = p["chain"]
        self.reasons: list[str] = p.setdefault("reasons", [])
        self.category: str = p["category"]
        self.params = decode_map(p["params"])
        self.profile = delivery.profiles.get(entry.customer_id)
        self.durable = delivery.history is not None
        self.held = bool(p.get("deferred")) and now >= entry.not_before
        self.inst = delivery.instance(p["instance"]) if self.durable or self.held else None
        self.decisions: list[DecisionEntry] = []
        self.contact: Contact | None = None

    def run(self) -> _Saved | None:
        """Attempt the delivery; the contact and decisions to save with the entry, if any."""
        self.attempt()
        if not (self.decisions or self.contact is not None):
            return None
        inst = self.inst
        if inst is None and self.decisions:  # (a suppression, noted without contact policies)
            inst = self.inst = self.delivery.instance(self.p["instance"])
        if inst is not None:
            extend(inst, self.decisions)
        return self.contact, inst if self.decisions else None

    def superseded(self) -> bool:
        """Whether the instance of a held message moved on (an event woke it) by now. A host
        that commits in batches has its deliveries run after the batch, when later events of
        the batch may have moved the instance too: a move after ``now`` does not count, so the
        batch delivers what one commit per event does (where it moved both before and after
        ``now`` within one batch, the later move decides)."""
        inst = self.inst
        if not self.held or inst is None or inst.get("wakes", 0) <= self.p.get("wakes", 0):
            return False
        return last_step(inst) <= self.now

    def attempt(self) -> None:
        """Walk the policies and the fallback chain until the message is settled or waits."""
        p, entry, delivery = self.p, self.entry, self.delivery
        withhold = p.get("withhold")  # decided when it was made: see Interpreter._send
        if withhold is not None:
            self.suppress(withhold[1], self.current_channel(), withhold[0])
            return
        stale = self.overdue()
        if stale is not None:  # kept waiting too long (the host did not deliver)
            self.suppress(stale, self.current_channel(), "stale")
            return
        if self.superseded():
            # Held by quiet hours or a cap while an event changed the customer's path (the
            # awaited event came, or a goal was reached): the message no longer fits.
            held_by = p.get("held_by", "")
            what = (
                "a frequency cap"
                if "frequency_cap" in held_by
                else "a throughput limit"
                if held_by.startswith("throughput:")
                else None
            )
            self.suppress(
                "superseded: the customer's journey moved on while "
                f"{what or 'quiet hours'} held it",
                self.current_channel(),
                "superseded",
            )
            return
        profile = self.profile
        policy = delivery.policy
        withheld = policy.withhold(p["journey"], entry.customer_id, self.category, profile)
        if withheld is not None:
            self.suppress(withheld.reason, self.current_channel(), withheld.policy)
            return
        if self.arbitrating():
            return
        journey = delivery.versions.get((p["journey"], p["version"]))
        tz_name = profile.timezone or (journey.timezone if journey else DEFAULT_TIMEZONE)
        local_zone = zone(tz_name)
        last_policy = "no_channel"
        while p["index"] < len(self.chain):
            channel = self.chain[p["index"]]
            miss = policy.unreachable(
                p["journey"], channel, self.category, profile, self.since_entry
            )
            if miss is None and channel not in delivery.channels:
                miss = Miss("channels", f"no {channel} channel configured")
            if miss is not None:
                self.reasons.append(miss.reason)
                last_policy = miss.policy
                self.next_channel(channel, miss.policy, miss.reason)
                continue
            local = self.now.astimezone(local_zone)
            verdict = policy.hold(
                journey,
                p["journey"],
                channel,
                self.category,
                profile,
                local,
                self.history,
                tuple(p.get("tags", ())),
            )
            if verdict is None and delivery.throttle is not None:
                verdict = delivery.throttle.hold(channel, self.category, self.now)
            if verdict is not None:
                self.hold(channel, verdict)
                return
            result = self.send(channel)
            if result is None or delivery.retried(entry, result, self.now):
                return  # delivered, or tried again later
            why = f"{channel} failed: {result.detail or result.status.value}"
            self.reasons.append(why)
            last_policy = "delivery_failure"
            self.next_channel(channel, "delivery_failure", why)
        self.suppress("; ".join(self.reasons) or "no channel", self.chain[0], last_policy)

    def arbitrating(self) -> bool:
        """Hold a message a cap arbitrates until the end of its slot, once: there every message
        wanting the customer in the slot is decided together, by journey priority."""
        p = self.p
        if p.get("arbitrated"):
            return False
        tags = tuple(p.get("tags", ()))
        channel = self.current_channel()
        found = self.delivery.policy.arbitration_slot(
            p["journey"], channel, self.category, tags, self.now
        )
        if found is None:
            return False
        name, until = found
        p["arbitrated"] = iso(until)
        self.entry.not_before = until
        self.decide(
            "held",
            channel=channel,
            until=iso(until),
            policy=f"arbitration:{name}",
            reason=f"waits for the end of its arbitration slot ({name})",
        )
        return True

    def overdue(self) -> str | None:
        """Why the message is too late to send now, when it is: it was due (made, deferred by
        quiet hours or a cap, or retried) longer than its journey's ``stale after`` ago, because
        nobody delivered for that long (the host was down, or did not tick)."""
        p, delivery = self.p, self.delivery
        journey = delivery.versions.get((p["journey"], p["version"]))
        limit = (journey.stale_after if journey else None) or delivery.stale_after
        late = self.now - self.entry.not_before
        if limit is None or late <= limit:
            return None
        return (
            f"stale: due at {iso(self.entry.not_before)}, not delivered for "
            f"{describe_lateness(late)} (stale after {describe_lateness(limit)})"
        )

    def current_channel(self) -> str:
        """The channel of the chain the message stands at (the last when it ran out)."""
        index: int = self.p["index"]
        return self.chain[min(index, len(self.chain) - 1)]

    def since_entry(self, event: str) -> bool:
        """Whether the customer had ``event`` since entering the journey."""
        p = self.p
        entered = datetime.fromisoformat(p.get("entered_at") or p["created"])
        happened = self.delivery.events.last_time(self.entry.customer_id, event, self.now)
        return happened is not None and happened >= entered

    def history(self, since: datetime) -> list[Contact]:
        """The customer's contacts since ``since`` (what frequency caps count)."""
        history = self.delivery.history
        return history.contacts(self.entry.customer_id, since) if history else []

    def send(self, channel: str) -> DeliveryResult | None:
        """Hand the message to ``channel``: None when delivered, else the failure."""
        p, entry, now = self.p, self.entry, self.now
        label = self.delivery.policy.label(p["journey"], channel, self.category)
        message = Message(
            f"{entry.key}:{channel}",
            entry.customer_id,
            channel,
            p["template"],
            self.category,
            self.params,
            p["journey"],
            p["version"],
            p["node"],
            now,
            label,
            tuple(p.get("tags", ())),
        )
        result = hand_over(self.delivery.channels[channel].send, message)
        if result.status is not DeliveryStatus.DELIVERED:
            return result
        entry.status = "done"
        if self.delivery.throttle is not None:
            self.delivery.throttle.delivered(channel, self.category, now)
        if log.level <= INFO:  # (plain and masked parameters are not free)
            log.info(
                "send",
                journey=p["journey"],
                customer=entry.customer_id,
                channel=channel,
                template=p["template"],
                params=plain(self.params),  # masked by the logger
            )
        self.record(
            "send",
            channel=channel,
            template=p["template"],
            params=plain(self.params),
            **({"label": label} if label else {}),
            **({"tags": list(p["tags"])} if p.get("tags") else {}),
        )
        if self.durable:
            self.contact = Contact(
                entry.key,
                entry.customer_id,
                now,
                channel,
                self.category,
                p["journey"],
                p["template"],
                tuple(p.get("tags", ())),
            )
        self.decide("allowed", channel=channel, label=label or None)
        return None

    def record(self, kind: str, **fields: Any) -> None:
        """Tell the host's ``on_action`` what became of the message."""
        p = self.p
        record(
            self.delivery.on_action,
            self.now,
            self.entry.customer_id,
            p["journey"],
            p["node"],
            kind,
            **fields,
        )

    def decide(self, decision: str, **fields: Any) -> None:
        """Note a decision for the instance's log (kept when the store has a history)."""
        if self.durable:
            detail = {k: v for k, v in fields.items() if v is not None}
            entry = {
                "at": iso(self.now),
                "node": self.p["node"],
                "what": "deliver",
                "decision": decision,
                **detail,
                "message": self.entry.key,
            }
            self.decisions.append(cast(DecisionEntry, entry))

    def suppress(self, reason: str, where: str, by: str) -> None:
        """Drop the message for ``reason`` (decided by policy ``by``)."""
        p = self.p
        self.entry.status = "suppressed"
        log.info(
            "suppress",
            journey=p["journey"],
            customer=self.entry.customer_id,
            template=p["template"],
            reason=reason,
        )
        self.record(
            "suppressed",
            channel=where,
            template=p["template"],
            params=plain(self.params),
            reason=reason,
        )
        self.decide("suppressed", channel=where, policy=by, reason=reason)
        key, node = self.entry.key, p["node"]  # (noted with or without contact policies)
        self.decisions.append(
            withheld(self.now, node, key, reason, template=p["template"], channel=where)
        )

    def next_channel(self, channel: str, by: str, reason: str) -> None:
        """Fall back from ``channel`` to the next of the chain (logged when there is one)."""
        p = self.p
        p["index"] += 1
        while p["index"] < len(self.chain) and self.chain[p["index"]] in self.chain[: p["index"]]:
            p["index"] += 1  # a channel already tried (an entry queued before JD106 refused it)
        self.entry.attempts = 0
        if p["index"] < len(self.chain):
            self.decide(
                "fallback",
                channel=self.chain[p["index"]],
                **{"from": channel},
                policy=by,
                reason=reason,
            )

    def hold(self, channel: str, verdict: Verdict) -> None:
        """Defer the message on ``channel`` until the verdict's time, or drop it."""
        p = self.p
        if verdict.decision == "suppressed" or verdict.until is None:
            self.suppress(verdict.reason, channel, verdict.policy)
            return
        self.entry.not_before = verdict.until
        if not p.get("deferred"):
            p["deferred"] = iso(verdict.until)
        p["held_by"] = verdict.policy
        self.decide(
            "deferred",
            channel=channel,
            until=iso(verdict.until),
            policy=verdict.policy,
            reason=verdict.reason,
            also=list(verdict.also) or None,
        )
