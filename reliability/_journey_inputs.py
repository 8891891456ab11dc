"""The inputs of the hostile-journeys campaign (:mod:`reliability.hostile_journeys`): journey
folders, each a journey, its catalogs and the events it runs on, and what it must end in.

Four kinds:

* ``growth`` (hypothesis): journeys whose variables grow from themselves, ``set s = s + s``,
  ``set n = n * n``, money and durations likewise, in chains, ``repeat`` loops and branches,
  seeded from literals (big ones included), trigger fields, profile attributes and built-in
  names, through ``upper()`` and ``lower()``, in both spellings;
* ``paths``: ``uses events`` / ``uses templates`` naming files the journey may not read:
  absolute paths outside its folder, ``..`` escapes, symbolic links out, devices, a FIFO, a
  folder, files past the size limit (the secrets among them carry a marker that must never be
  printed);
* ``bombs`` (hypothesis): catalogs (and journey YAML) holding alias bombs and deep nesting, at
  every place a catalog holds a list or a mapping;
* ``sizes``: journeys at and past the size limits: long lists, many long expressions, one long
  expression shared through a YAML alias, long literals, deep nesting, many steps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from hypothesis import strategies as st

from journeydsl.syntax.limits import MAX_DEPTH, MAX_NODES, MAX_STEPS, MAX_TOKENS

#: What an input must end in, besides the campaign's oracle (no traceback, in time, in memory):
#: ``any`` outcome; ``not_clean``, a diagnostic or a counted instance failure (a value that
#: surely grows past a limit); or ``codes``, a diagnostic with one of :attr:`JourneyInput.codes`.
Expect = Literal["any", "not_clean", "codes"]


@dataclass(frozen=True, slots=True)
class JourneyInput:
    """One input: the files of its folder (in their text and in links, ``{outside}`` stands for
    the campaign's folder around every input's, where the secrets are, and ``{marker}`` for the
    secrets' marker) and what it must end in."""

    kind: str
    name: str
    journey: str
    files: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    fifos: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    sparse: Mapping[str, int] = field(default_factory=dict)
    expect: Expect = "any"
    codes: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- the journey folder

EVENTS_CATALOG: Final = """\
events:
  card_issued:
    card_id: string
    product: string
    count: int
    limit: {type: money, currency: VND}
  transaction:
    amount: {type: money, currency: VND}
    merchant: string
attributes:
  segment: string
  city: string
  points: int
  credit_limit: {type: money, currency: VND}
"""

TEMPLATES_CATALOG: Final = """\
templates:
  note:
    category: transactional
    channels: [email, sms]
    params: {text: string}
  figure:
    category: transactional
    channels: [email]
    params: {n: int, amount: {type: money, currency: VND}}
"""

_AT = "2026-01-05T08:00:00+07:00"


def _event(cid: str, etype: str, at: str, **data: object) -> str:
    return json.dumps({"customer_id": cid, "type": etype, "at": at, "data": data})


#: Two customers: an ordinary one, and one whose values are already large (a 20,000-character
#: product of a letter that upper-cases to two, a count near the square root of 2^63, a profile
#: string at the string limit, points of -2^62).
EVENTS: Final = "".join(
    line + "\n"
    for line in (
        _event("c1", "card_issued", _AT, card_id="k1", product="gold", count=3, limit=1_000_000),
        _event(
            "c2",
            "card_issued",
            "2026-01-05T08:01:00+07:00",
            card_id="k2",
            product="ß" * 20_000,
            count=3_037_000_499,
            limit=10**29,
        ),
        _event(
            "c1",
            "transaction",
            "2026-01-05T09:00:00+07:00",
            amount=50_000,
            merchant="Tiki",
        ),
    )
)

PROFILES: Final = "".join(
    json.dumps(
        {
            "customer_id": cid,
            "attributes": attributes,
            "consent": {"email": True, "sms": True},
            "timezone": "Asia/Ho_Chi_Minh",
        }
    )
    + "\n"
    for cid, attributes in (
        ("c1", {"segment": "mass", "city": "Ha Noi", "points": 7, "credit_limit": 50_000_000}),
        ("c2", {"segment": "x" * 65_536, "city": "ﬃ", "points": -(2**62), "credit_limit": 10**29}),
    )
)


def folder_files(journey: str, text: str) -> dict[str, str]:
    """The files of an ordinary input folder: the journey, both catalogs, events and profiles."""
    return {
        journey: text,
        "events.yaml": EVENTS_CATALOG,
        "templates.yaml": TEMPLATES_CATALOG,
        "events.jsonl": EVENTS,
        "profiles.jsonl": PROFILES,
    }


def dsl_journey(
    body: str, *, events: str = "events.yaml", templates: str = "templates.yaml"
) -> str:
    """A journey in the DSL around ``body`` (its steps), on the catalogs at these paths."""
    return (
        "journey hostile version 3\n"
        f"uses events {json.dumps(events)}\n"
        f"uses templates {json.dumps(templates)}\n"
        "outcomes done\n"
        "entry on card_issued\n" + body + "exit done\n"
    )


def yaml_journey(
    steps: str = "  - {send: note, channel: email, params: {text: 'trigger.product'}}\n",
    *,
    events: str = "events.yaml",
    templates: str = "templates.yaml",
    extra: str = "",
) -> str:
    """A journey in YAML with ``steps`` (indented list items), on the catalogs at these paths."""
    return (
        extra + "journey: hostile\nversion: 3\n"
        f"uses: {{events: {json.dumps(events)}, templates: {json.dumps(templates)}}}\n"
        "outcomes: [done]\nentry: {event: card_issued}\nsteps:\n" + steps + "  - exit: done\n"
    )


# --------------------------------------------------------------------------- growth

_SEEDS: Final[Mapping[str, tuple[str, ...]]] = {
    "s": (
        '"ab"',
        '"ß"',
        '"ﬃ"',
        "trigger.product",
        "profile.segment",
        "customer_id",
        "journey_id",
        "upper(trigger.product)",
        "lower(profile.city)",
        "trigger.card_id + profile.city",
        '"' + "x" * 4096 + '"',
    ),
    "n": (
        "3",
        "-2",
        "journey_version",
        "trigger.count",
        "profile.points",
        "trigger.count + profile.points",
        "3_037_000_499",
        "9_223_372_036_854_775_807",
        "-9_223_372_036_854_775_807",
        "999_999_999_999_999_999_999_999_999_999",
        "9" * 31,
    ),
    "m": (
        "1 VND",
        "trigger.limit",
        "profile.credit_limit",
        "999_999_999_999_999_999_999_999_999_999 VND",
    ),
    "d": ("1d", "3660d", "3661d", "36h * trigger.count", "days(trigger.count)", "2w"),
}

#: How each variable grows from itself, and how many times in a row surely passes a limit from
#: any seed above (None: it may not grow at all).
_GROWTH: Final[Mapping[str, tuple[tuple[str, int | None], ...]]] = {
    "s": (
        ("s + s", 17),
        ("upper(s + s)", 17),
        ("lower(s) + upper(s)", 17),
        ("s + s + s + s", 9),
        ("s + customer_id + s", 17),
        ("if n > 0 then s + s else s", None),
        ("upper(lower(s))", None),
    ),
    "n": (
        ("n * n", 7),
        ("n + n", 64),
        ("n * n * n", 5),
        ("-n * n", 7),
        ("n * journey_version", 40),
        ("(n + 1) * (n - 1)", 7),
        ("n * 1_000_000_000", 3),
    ),
    "m": (
        ("m + m", 100),
        ("m * 1_000_000", 5),
        ("m * 1_000_000_000_000", 3),
        ("m * n", None),
    ),
    "d": (
        ("d + d", 30),
        ("d * 1000", 3),
        ("d * n", None),
        ("days(n)", None),
        ("d + days(n)", None),
    ),
}

_SINKS: Final = (
    "send email note transactional { text: s }\n",
    "send sms note transactional { text: upper(s) }\n",
    "send email figure transactional { n: n, amount: m }\n",
    "action audit { s: lower(s), n: n, m: m, d: d }\n",
    "ticket telesales priority normal { s: s, n: n }\n",
    "wait d\n",
    "wait until entered_at + d\n",
    "wait for transaction within d\n",
    'if upper(s) == "GOLD" and n > 0 { exit done }\n',
    "set t = entered_at + d\n",
)
_CONDITIONS: Final = (
    "n > 2",
    'trigger.product == "gold"',
    "has(transaction since entry)",
    "profile.points < 0",
    'upper(s) == "X"',
)
_UNTIL: Final = ("false", "has(transaction since entry)", "n > 1_000_000", 'upper(s) == "X"')
#: A repeat's max: 10,000 is the most rounds a repeat may run, counting those of the repeats it
#: is in (JD105, so nested large ones end in that diagnostic); the run's three days bound the
#: rest.
_MAX: Final = (1, 3, 17, 64, 65, 100, 10_000)


@st.composite
def _chain(draw: st.DrawFn) -> tuple[str, bool]:
    """``k`` growths of one variable in a row; True when they surely pass a limit."""
    var = draw(st.sampled_from(sorted(_GROWTH)))
    grow, blows = draw(st.sampled_from(_GROWTH[var]))
    k = draw(st.integers(1, 70))
    return "".join(f"set {var} = {grow}\n" for _ in range(k)), blows is not None and k >= blows


@st.composite
def _block(draw: st.DrawFn, depth: int, counter: list[int]) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        form = draw(st.integers(0, 5 if depth < 3 else 1))
        if form == 0:
            parts.append(draw(_chain())[0])
        elif form == 1:
            parts.append(draw(st.sampled_from(_SINKS)))
        elif form in (2, 3):
            counter[0] += 1
            name = f"r{counter[0]}"  # before the block inside takes the next numbers
            inner = draw(_block(depth + 1, counter))
            wait = draw(st.sampled_from(["1h", "2h", "1d"]))
            parts.append(
                f"repeat as {name} max {draw(st.sampled_from(_MAX))} "
                f"until {draw(st.sampled_from(_UNTIL))} {{\n{inner}wait {wait}\n}}\n"
            )
        elif form == 4:
            then = draw(_block(depth + 1, counter))
            otherwise = draw(_block(depth + 1, counter))
            condition = draw(st.sampled_from(_CONDITIONS))
            parts.append(f"if {condition} {{\n{then}}} else {{\n{otherwise}}}\n")
        else:
            first = draw(_block(depth + 1, counter))
            otherwise = draw(_block(depth + 1, counter))
            parts.append(f"switch n {{\n case 1, 3 {{\n{first}}}\n else {{\n{otherwise}}}\n}}\n")
    return "".join(parts)


def _seed(var: str) -> st.SearchStrategy[str]:
    """A first value for ``var``: one read at run time (the trigger, the profile, built-in
    names) three times in four, so that most journeys compile and grow while they run."""
    seeds = _SEEDS[var]
    read = [x for x in seeds if any(name in x for name in _READ)]
    return st.one_of(
        st.sampled_from(read), st.sampled_from(read), st.sampled_from(read), st.sampled_from(seeds)
    )


_READ: Final = ("trigger.", "profile.", "customer_id", "journey_")


@st.composite
def _growth_body(draw: st.DrawFn) -> tuple[str, bool]:
    seeds = "".join(f"set {v} = {draw(_seed(v))}\n" for v in ("s", "n", "m", "d"))
    if draw(st.booleans()):
        chain, blows = draw(_chain())
        return seeds + chain + draw(st.sampled_from(_SINKS)), blows
    return seeds + draw(_block(0, [0])) + draw(st.sampled_from(_SINKS)), False


def _yaml_twin(text: str) -> str | None:
    """The YAML spelling of the DSL journey ``text`` (None when it does not parse)."""
    from journeydsl.syntax.parser import parse_journey
    from journeydsl.syntax.printer import print_yaml

    journey, _ = parse_journey(text, "hostile.journey")
    return None if journey is None else print_yaml(journey)


@st.composite
def growth(draw: st.DrawFn) -> JourneyInput:
    """A journey whose variables grow from themselves (see the module's docstring)."""
    body, blows = draw(_growth_body())
    text = dsl_journey(body)
    name, journey = "journey", "hostile.journey"
    if draw(st.booleans()):
        twin = _yaml_twin(text)
        if twin is not None:
            text, name, journey = twin, "yaml", "hostile.yaml"
    return JourneyInput(
        "growth",
        f"{name}: {body.count(chr(10))} lines{', surely blows' if blows else ''}",
        journey,
        folder_files(journey, text),
        expect="not_clean" if blows else "any",
    )


# --------------------------------------------------------------------------- paths

#: The secret files outside every input's folder, in the campaign's folder ``{outside}``: a
#: valid catalog whose names a did-you-mean would quote, and broken YAML an excerpt would quote.
#: ``{marker}`` is the campaign's marker.
SECRETS: Final = {
    "secret.yaml": (
        "# {marker}\nevents:\n  card_issue_{marker}: {card_id: string}\n"
        "templates:\n  note_{marker}: {category: marketing, channels: [email]}\n"
    ),
    "secret-broken.yaml": "{marker}: [unclosed, {marker}\n  - {marker}\n",
}


@dataclass(frozen=True, slots=True)
class _PathCase:
    """A ``uses`` path the journey may not read, what its folder holds for it, and the code it
    must end in."""

    name: str
    path: str
    code: str = "JD113"
    links: Mapping[str, str] = field(default_factory=dict)
    fifos: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    sparse: Mapping[str, int] = field(default_factory=dict)


#: A catalog of more than 1 MiB, the marker on every line.
_BIG: Final = "events: {}\n" + ("# {marker}" * 8 + "\n") * ((1 << 20) // 64 + 100)

PATH_CASES: Final = (
    _PathCase("/etc/passwd", "/etc/passwd"),
    _PathCase("/etc/shadow", "/etc/shadow"),
    _PathCase("/proc/self/environ", "/proc/self/environ"),
    _PathCase("secret, absolute", "{outside}/secret.yaml"),
    _PathCase("broken secret, absolute", "{outside}/secret-broken.yaml"),
    _PathCase("../ escape", "../../secret.yaml"),
    _PathCase("../ escape through a sibling", "../x/../../secret-broken.yaml"),
    _PathCase("sub/../../ escape", "sub/../../../secret.yaml", folders=("sub",)),
    _PathCase("link to a secret", "link.yaml", links={"link.yaml": "{outside}/secret.yaml"}),
    _PathCase(
        "relative link to a secret", "link.yaml", links={"link.yaml": "../../secret-broken.yaml"}
    ),
    _PathCase("link to /etc/passwd", "passwd.yaml", links={"passwd.yaml": "/etc/passwd"}),
    _PathCase("folder link out", "out/secret.yaml", links={"out": "{outside}"}),
    _PathCase(
        "link chain out", "a.yaml", links={"a.yaml": "b.yaml", "b.yaml": "../../secret.yaml"}
    ),
    _PathCase("link loop", "loop.yaml", links={"loop.yaml": "loop.yaml"}),
    _PathCase("/dev/zero", "/dev/zero"),
    _PathCase("/dev/urandom", "/dev/urandom"),
    _PathCase("/dev/stdin", "/dev/stdin"),
    _PathCase("link to /dev/zero", "zero.yaml", links={"zero.yaml": "/dev/zero"}),
    _PathCase("FIFO in the folder", "fifo.yaml", fifos=("fifo.yaml",)),
    _PathCase("FIFO outside", "{outside}/fifo.yaml"),
    _PathCase("link to a FIFO", "pipe.yaml", links={"pipe.yaml": "{outside}/fifo.yaml"}),
    _PathCase("the folder itself", "."),
    _PathCase("a folder named like a catalog", "cat.yaml", folders=("cat.yaml",)),
    _PathCase("past 1 MiB", "big.yaml", files={"big.yaml": _BIG}),
    _PathCase("10 GB sparse file", "sparse.yaml", sparse={"sparse.yaml": 10 * 2**30}),
    _PathCase("missing", "missing.yaml", code="JD109"),
    _PathCase("~ is not expanded", "~/.ssh/id_rsa", code="JD109"),
    _PathCase("a URL is a file name", "file:///etc/passwd", code="JD109"),
    _PathCase("a name too long", "a" * 5000 + ".yaml", code="JD109"),
    _PathCase("a control character", "events\n.yaml", code="JD105"),
)


def path_inputs() -> list[JourneyInput]:
    """Every path case, in both slots (events, templates) and both spellings."""
    return [
        _path_input(case, slot, spelling)
        for case in PATH_CASES
        for slot in ("events", "templates")
        for spelling in ("journey", "yaml")
    ]


def _path_input(case: _PathCase, slot: str, spelling: str) -> JourneyInput:
    paths = {"events": "events.yaml", "templates": "templates.yaml", slot: case.path}
    if spelling == "journey":
        journey = "hostile.journey"
        text = dsl_journey(
            "send email note transactional { text: trigger.product }\n",
            events=paths["events"],
            templates=paths["templates"],
        )
    else:
        journey = "hostile.yaml"
        text = yaml_journey(events=paths["events"], templates=paths["templates"])
    files = folder_files(journey, text)
    files.update(case.files)
    return JourneyInput(
        "paths",
        f"{case.name} ({slot}, {spelling})",
        journey,
        files,
        links=case.links,
        fifos=case.fifos,
        folders=case.folders,
        sparse=case.sparse,
        expect="codes",
        codes=frozenset({case.code}),
    )


# --------------------------------------------------------------------------- bombs


def _bomb(levels: int, fan: int, leaf: str) -> tuple[list[str], str]:
    """Anchor lines of an alias bomb (``levels`` levels of ``fan`` aliases) and its last alias."""
    lines = [f"b0: &b0 [{', '.join([leaf] * fan)}]"]
    for i in range(1, levels):
        lines.append(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * fan)}]")
    return lines, f"*b{levels - 1}"


#: Where a catalog holds a list or a mapping that a bomb can stand for: the catalog, which
#: section the anchors go under, and the text that uses the bomb (``{bomb}``).
_PLACES: Final = (
    ("events", "events", "  transaction:\n    category: {{type: enum, values: {bomb}}}\n"),
    ("events", "events", "  transaction: {bomb}\n"),
    ("events", "attributes", "  segment: {bomb}\n"),
    ("events", "x-anchors", "x-use: {bomb}\n"),
    ("templates", "templates", "  note:\n    category: transactional\n    channels: {bomb}\n"),
    ("templates", "templates", "  note:\n    category: transactional\n    params: {bomb}\n"),
    ("templates", "templates", "  note:\n    category: transactional\n    text: {bomb}\n"),
)


def _expanded(levels: int, fan: int) -> int:
    return sum(fan**i for i in range(1, levels + 1))


@st.composite
def bombs(draw: st.DrawFn) -> JourneyInput:
    """A catalog (or the journey's YAML) holding an alias bomb, or nesting deeply."""
    form = draw(st.sampled_from(["catalog", "catalog", "nesting", "journey"]))
    if form == "nesting":
        return _nesting(draw)
    levels = draw(st.integers(2, 9))
    fan = draw(st.integers(2, 10))
    leaf = draw(st.sampled_from(["x", "string", "{a: string}", "[x]", "&leaf x"]))
    if leaf == "&leaf x":
        leaf = "*leaf"
        lines, use = _bomb(levels, fan, leaf)
        lines.insert(0, "leaf: &leaf x")
    else:
        lines, use = _bomb(levels, fan, leaf)
    size = _expanded(levels, fan)
    sure = size >= 2 * MAX_NODES
    name = f"{form}: {levels} levels of {fan} ({size:,} nodes)"
    if form == "journey":
        anchors = "".join(line + "\n" for line in lines) + f"x-use: {use}\n"
        files = folder_files("hostile.yaml", yaml_journey(extra=anchors))
        return _bomb_input(name, "hostile.yaml", files, sure)
    catalog, section, place = draw(st.sampled_from(_PLACES))
    anchors = "".join(f"  {line}\n" for line in lines)
    if section == "x-anchors":
        body = "x-anchors:\n" + anchors + "events:\n  card_issued: {card_id: string}\n"
        body += place.format(bomb=use)
    else:
        body = f"x-anchors:\n{anchors}{section}:\n" + place.format(bomb=use)
        if catalog == "events" and section == "attributes":
            body += "events:\n  card_issued: {card_id: string, product: string}\n"
    text = dsl_journey("send email note transactional { text: trigger.product }\n")
    files = folder_files("hostile.journey", text)
    files[f"{catalog}.yaml"] = body
    return _bomb_input(f"{name} in {catalog}/{section}", "hostile.journey", files, sure)


def _bomb_input(name: str, journey: str, files: dict[str, str], sure: bool) -> JourneyInput:
    return JourneyInput(
        "bombs",
        name,
        journey,
        files,
        expect="codes" if sure else "any",
        codes=frozenset({"JD112"}),
    )


def _nesting(draw: st.DrawFn) -> JourneyInput:
    depth = draw(st.sampled_from([MAX_DEPTH - 10, MAX_DEPTH + 1, 2 * MAX_DEPTH, 5_000, 100_000]))
    catalog = draw(st.sampled_from(["events", "templates"]))
    style = draw(st.sampled_from(["flow", "block"]))
    if style == "block":  # indentation grows with depth: past 500 levels the file passes 1 MiB
        depth = min(depth, 500)
        deep = "".join("\n" + "  " * (i + 1) + "- " for i in range(depth)) + "x"
    else:
        deep = "[" * depth + "x" + "]" * depth
    body = f"x-deep: {deep}\n" + (EVENTS_CATALOG if catalog == "events" else TEMPLATES_CATALOG)
    files = folder_files(
        "hostile.journey", dsl_journey("send email note transactional { text: trigger.product }\n")
    )
    files[f"{catalog}.yaml"] = body
    sure = depth > MAX_DEPTH + 5
    name = f"nesting: {style}, {depth} deep, in {catalog}"
    return _bomb_input(name, "hostile.journey", files, sure)


# --------------------------------------------------------------------------- sizes


def _dsl_sized(name: str, body: str) -> JourneyInput:
    files = folder_files("hostile.journey", dsl_journey(body))
    return JourneyInput("sizes", name, "hostile.journey", files)


def _yaml_sized(name: str, steps: str, extra: str = "") -> JourneyInput:
    text = yaml_journey(steps, extra=extra)
    return JourneyInput("sizes", name, "hostile.yaml", folder_files("hostile.yaml", text))


def _sums(steps: int, terms: int) -> str:
    return "".join(f"set v{i} = {' + '.join(['1'] * terms)}\n" for i in range(steps))


def size_inputs() -> list[JourneyInput]:
    """Journeys at and past the size limits."""
    under = (MAX_TOKENS - 200) // 43  # `set vN = 1 + … + 1` of 20 terms: 43 tokens
    sums = _sums(under, 20)
    return [
        _dsl_sized("a list of 10,001 items", f"set b = 1 in [{', '.join(['1'] * 10_001)}]\n"),
        _dsl_sized("a list of 300,000 items", f"set b = 1 in [{','.join(['1'] * 300_000)}]\n"),
        _dsl_sized(f"{under:,} sums of 20 terms, just under the token limit", sums),
        _yaml_sized(
            f"{under:,} sums of 20 terms in YAML, just under the token limit",
            "".join(
                f"  - {{set: v{i}, value: '{' + '.join(['1'] * 20)}'}}\n" for i in range(under)
            ),
        ),
        _dsl_sized("2,000 sums of 100 terms, past the token limit", _sums(2_000, 100)),
        _dsl_sized(
            f"{MAX_STEPS:,} steps", "".join(f"set v{i % 10} = {i}\n" for i in range(MAX_STEPS - 1))
        ),
        _dsl_sized(
            f"{MAX_STEPS + 1:,} steps",
            "".join(f"set v{i % 10} = {i}\n" for i in range(MAX_STEPS + 1)),
        ),
        _dsl_sized(
            "a string literal of 900,000 characters",
            f'set s = "{"x" * 900_000}"\nsend email note transactional {{ text: s }}\n',
        ),
        _yaml_sized(
            "a string literal of 990,000 characters in YAML",
            f"  - {{set: s, value: '\"{'x' * 990_000}\"'}}\n",
        ),
        _dsl_sized("a million characters of comments", ("#" + "x" * 98 + "\n") * 9_990),
        _dsl_sized(
            "two 60,000-character literals added",
            f'set s = "{"x" * 60_000}" + "{"y" * 60_000}"\n',
        ),
        _dsl_sized(
            "number literals of 30, 31 and 5,000 digits",
            f"set a = {'9' * 30}\nset b = {'9' * 31}\nset c = {'9' * 5000} VND\n",
        ),
        _dsl_sized(
            "19,000 nested parentheses around a doubling (they add no depth)",
            "set s = trigger.product\nset s = " + "(" * 19_000 + "s + s" + ")" * 19_000 + "\n",
        ),
        _dsl_sized("conditions nested 60 deep", "set s = " + _conditions(60) + "\n"),
        _dsl_sized("conditions nested 200 deep", "set s = " + _conditions(200) + "\n"),
        _dsl_sized(
            "a doubling tree 12 deep", "set s = trigger.product\nset s = " + _tree(12) + "\n"
        ),
        _yaml_sized(
            "one 1,200-token expression aliased in 4,000 steps",
            "".join(f"  - {{set: v{i}, value: *e}}\n" for i in range(4_000)),
            extra=f"x-e: &e '1 in [{','.join(['1'] * 600)}]'\n",
        ),
        _yaml_sized(
            "4,000 distinct 1,200-token expressions (4.9 MB)",
            "".join(
                f"  - {{set: v{i}, value: '{i} in [{','.join(['1'] * 600)}]'}}\n"
                for i in range(4_000)
            ),
        ),
    ]


def _conditions(depth: int) -> str:
    """``(if trigger.count > 0 then (if …) else trigger.product)``, ``depth`` conditions deep
    around a doubling of the trigger's product."""
    text = "trigger.product + trigger.product"
    for _ in range(depth):
        text = f"(if trigger.count > 0 then {text} else trigger.product)"
    return text


def _tree(depth: int) -> str:
    """``((s + s) + (s + s)) + …``: a balanced tree of doublings, ``depth`` levels."""
    text = "s"
    for _ in range(depth):
        text = f"({text} + {text})"
    return text
