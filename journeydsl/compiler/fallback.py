"""Fallback chains: the journey's (``fallback push -> zns -> sms``, in YAML ``fallback: [push,
zns, sms]``) and a send's own (``send zns … fallback sms``), resolved to the channels a message
is tried on after its first.

A message is tried at most once on each channel. So each channel falls back to at most one
other, no chain names a channel twice, no two chains lead back to where they started, and a
send's own chain lists only the channels after the send's channel: each is JD106, at the
channel that repeats. The runtime relies on it, and skips a repeated channel of a journey
compiled before this check (see :meth:`journeydsl.runtime.interpreter.Interpreter._send`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

from journeydsl import ast as A
from journeydsl.diagnostics import Diagnostics

__all__ = ["journey_fallbacks", "send_fallback"]

#: Whether a channel named in the source exists (reporting JD206 when it does not).
ChannelOk = Callable[[A.Ident], bool]


def _once(
    channels: Sequence[A.Ident], channel_ok: ChannelOk, diags: Diagnostics, first: str | None
) -> list[A.Ident]:
    """The known channels of ``channels`` without repeats, each repeat reported (JD106);
    ``first`` is the send's own channel, tried before the chain."""
    kept: list[A.Ident] = []
    for c in channels:
        if not channel_ok(c):
            continue
        if c.name == first:
            rest = [k.name for k in channels if k.name != first]
            diags.error(
                "JD106",
                f"{c.name} is this send's own channel: a send's `fallback` lists the channels "
                f"tried after it, and a message is tried on each channel once",
                c.span,
                f"list only the channels after {c.name}: {' -> '.join(dict.fromkeys(rest))}"
                if rest
                else f"`fallback none` sends on {c.name} only",
            )
        elif any(k.name == c.name for k in kept):
            diags.error(
                "JD106",
                f"{c.name} appears twice in this fallback chain: a message is tried on each "
                "channel once",
                c.span,
                f"remove the second {c.name}",
            )
        else:
            kept.append(c)
    return kept


def journey_fallbacks(
    chains: Sequence[A.FallbackChain], channel_ok: ChannelOk, diags: Diagnostics
) -> dict[str, str]:
    """The journey's chains as one map, channel → the channel it falls back to. A channel
    that already falls back, a channel twice in a chain and a chain that leads back to a
    channel it started from are JD106 (and left out of the map, which stays free of loops)."""
    fallback: dict[str, str] = {}
    for chain in chains:
        for a, b in itertools.pairwise(_once(chain.channels, channel_ok, diags, None)):
            if a.name in fallback:
                diags.error(
                    "JD106", f"{a.name} already falls back to {fallback[a.name]}", chain.span
                )
                continue
            loop = [a.name, b.name]
            while loop[-1] in fallback and loop[-1] != a.name:
                loop.append(fallback[loop[-1]])
            if loop[-1] == a.name:
                diags.error(
                    "JD106",
                    f"{a.name} -> {b.name} closes a loop of fallbacks ({' -> '.join(loop)}): a "
                    f"message would be tried on {a.name} twice",
                    b.span,
                    "remove one of the links, so that the chains end",
                )
                continue
            fallback[a.name] = b.name
    return fallback


def send_fallback(
    send: A.Send, fallback: Mapping[str, str], channel_ok: ChannelOk, diags: Diagnostics
) -> list[str]:
    """The channels ``send`` is tried on after its own, in order: its own chain (``fallback
    sms``; a repeat is JD106) or, without one, the journey's ``fallback`` followed from the
    send's channel."""
    if send.fallback is not None:
        return [c.name for c in _once(send.fallback, channel_ok, diags, send.channel.name)]
    tried = [send.channel.name]
    while tried[-1] in fallback and fallback[tried[-1]] not in tried:
        tried.append(fallback[tried[-1]])
    return tried[1:]
