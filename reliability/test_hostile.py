"""The hostile-input campaign at CI size, the limits it relies on (each enforced and pinned
here), and regression tests for the crash classes it found."""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.catalog import Catalog, load_templates
from journeydsl.cli.run import run as journeydsl_run
from journeydsl.compiler import compile_file, compile_source
from journeydsl.diagnostics import Diagnostics, Span
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.events import MAX_DATA_DEPTH
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.simulate.behaviour import load_behaviour
from journeydsl.simulate.inputs import read_events
from journeydsl.syntax.limits import MAX_STEPS
from journeydsl.syntax.parser import parse_journey
from journeydsl.syntax.yaml_loader import MAX_NODES
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    SteppableClock,
)
from journeydsl.yamlfile import InputError
from reliability import _generators as gen
from reliability import hostile
from reliability._common import EXAMPLES, ICT, JOURNEYS, compiled, profile_line

pytestmark = pytest.mark.campaign

HEADER = (
    "journey j version 1\n"
    'uses events "events.yaml"\nuses templates "templates.yaml"\n'
    "outcomes done\nentry on card_issued\n"
)


def compile_here(text: str, name: str = "hostile.journey") -> list[tuple[str, str]]:
    """Compile against the example catalogs; (code, message) of every diagnostic."""
    result = compile_source(text, str(EXAMPLES / name))
    return [(d.code, d.message) for d in result.diagnostics]


# --------------------------------------------------------------------------- the campaign


def test_hostile_input_ends_in_diagnostics_never_a_traceback() -> None:
    """Fuzzed journeys, expressions, catalogs, behaviour and policy files, event and profile
    lines: no crash outside the pinned classes, every diagnostic placed, every bad event line
    quarantined with its line number, and no customer's actions changed by a bad event."""
    figures = hostile.run(size=120, seed=20260105)
    assert figures["inputs"] == 120 * len(hostile.TARGETS)
    unknown = [c for c in figures["crash_classes"] if not c["known"]]
    assert unknown == []
    assert figures["diagnostics_without_position"] == 0
    assert figures["bad_event_lines_quarantined"] == figures["bad_event_lines"] > 100
    assert figures["customers_poisoned"] == 0
    for target in ("yaml", "dsl", "expressions", "catalogs", "events"):
        assert figures["by_target"][target]["crashes"] == 0, target


# --------------------------------------------------------------------------- YAML


def test_a_python_object_tag_is_refused_with_a_diagnostic() -> None:
    """`!!python/object/apply` (and any tag yaml.safe_load would refuse) is JD100 at its line;
    nothing is ever constructed from a journey file."""
    text = (EXAMPLES / "onboarding_new_cardholder.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "title: New cardholder onboarding",
        "title: !!python/object/apply:os.system ['touch /tmp/jd-pwned']",
    )
    result = compile_source(text, str(EXAMPLES / "tagged.yaml"))
    (tag,) = [d for d in result.diagnostics if d.code == "JD100"]
    assert "'!!python/object/apply:os.system' is not allowed" in tag.message
    assert (
        tag.span.line
        == text.splitlines().index("title: !!python/object/apply:os.system ['touch /tmp/jd-pwned']")
        + 1
    )
    assert result.journey is None
    assert not Path("/tmp/jd-pwned").exists()


def test_a_tag_in_a_catalog_is_refused_at_its_place(tmp_path: Path) -> None:
    """A catalog file is plain data too: a tag yaml.safe_load would refuse is JD100 at its
    line and column in the catalog, the only error (the rest of the catalog is still read, so
    the journey gets no cascade of undefined events), and nothing is constructed."""
    for name in ("templates.yaml", "onboarding_new_cardholder.journey"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    events = (EXAMPLES / "events.yaml").read_text(encoding="utf-8")
    tagged = events.replace("card_id: string", "card_id: !!python/object/apply:os.system string", 1)
    assert tagged != events
    (tmp_path / "events.yaml").write_text(tagged, encoding="utf-8")
    result = compile_file(tmp_path / "onboarding_new_cardholder.journey")
    (tag,) = result.diagnostics
    assert tag.code == "JD100"
    assert "a catalog is plain data" in tag.message
    line = next(i for i, t in enumerate(tagged.splitlines(), 1) if "!!python" in t)
    assert (tag.span.file, tag.span.line, tag.span.column) == (
        str(tmp_path / "events.yaml"),
        line,
        tagged.splitlines()[line - 1].index("!!") + 1,
    )
    assert not Path("/tmp/jd-cat").exists()


def test_standard_tags_are_still_accepted() -> None:
    """Tags of YAML's core schema (`!!str`, `!!int`) are plain data and stay allowed."""
    text = (EXAMPLES / "onboarding_new_cardholder.yaml").read_text(encoding="utf-8")
    text = text.replace("version: 1", "version: !!int 1").replace(
        "title: New cardholder onboarding", "title: !!str New cardholder onboarding"
    )
    assert compile_here(text, "tagged.yaml") == []


def test_a_billion_laughs_document_is_refused_before_it_expands(tmp_path: Path) -> None:
    """Nine levels of nine aliases (387 million nodes) are refused as an alias bomb (JD112) after
    at most MAX_NODES visits, in the journey loader and in catalogs alike."""
    lol = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lol.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = "\n".join(lol) + "\n"
    found = compile_here(text, "laughs.yaml")
    assert [c for c, _ in found] == ["JD112"]
    assert f"more than {MAX_NODES:,} with aliases expanded" in found[0][1]
    diags = Diagnostics()
    path = tmp_path / "templates.yaml"
    path.write_text("templates:\n" + "".join(f"  {line}\n" for line in lol), encoding="utf-8")
    load_templates(path, Catalog(), diags, Span.point("j.journey", 1, 1), {})
    assert all(d.span.file == str(path) for d in diags.items)


# --------------------------------------------------------------------------- size and depth


@pytest.mark.parametrize("spelling", ["journey", "yaml"])
def test_expression_nesting_is_bounded_with_a_diagnostic(spelling: str) -> None:
    """An expression nested thousands deep is JD112, not a RecursionError, in both spellings."""
    deep = " and ".join(["true"] * 5000)
    if spelling == "journey":
        found = compile_here(HEADER + f"if {deep} {{ exit done }}\nexit done\n")
    else:
        text = (
            "journey: j\nuses: {events: events.yaml, templates: templates.yaml}\n"
            "outcomes: [done]\nentry: {event: card_issued}\n"
            f"steps:\n  - if: {deep}\n    then: [{{exit: done}}]\n  - exit: done\n"
        )
        found = compile_here(text, "deep.yaml")
    assert "JD112" in {c for c, _ in found}


@pytest.mark.parametrize("spelling", ["journey", "yaml"])
def test_journey_size_is_bounded_with_a_diagnostic_at_the_first_step_too_many(
    spelling: str,
) -> None:
    """A journey of MAX_STEPS steps parses; one more is JD112 at the step past the limit."""
    if spelling == "journey":
        steps = "".join(f"set v{i} = {i}\n" for i in range(MAX_STEPS))
        journey, diags = parse_journey(HEADER + steps, "big.journey")
        assert journey is not None
        assert diags == []
        journey, diags = parse_journey(HEADER + steps + "exit done\n", "big.journey")
        line = len((HEADER + steps).splitlines()) + 1
    else:
        from journeydsl.syntax.yaml_loader import load_yaml_journey

        head = "journey: j\noutcomes: [done]\nentry: {event: card_issued}\nsteps:\n"
        steps = "".join(f"  - {{set: v{i}, value: {i}}}\n" for i in range(MAX_STEPS))
        journey, diags = load_yaml_journey(head + steps + "  - exit: done\n", "big.yaml")
        line = len((head + steps).splitlines()) + 1
    assert journey is None
    assert [(d.code, d.span.line) for d in diags] == [("JD112", line)]
    assert f"more than {MAX_STEPS:,} steps" in diags[0].message


def test_an_absurdly_long_number_is_a_diagnostic_not_a_value_error() -> None:
    """A 5,000-digit number (int() refuses more than 4,300) or amount is JD105."""
    found = compile_here(HEADER + f"set x = {'9' * 5000}\nset y = {'9' * 40} VND\nexit done\n")
    assert [c for c, _ in found] == ["JD105", "JD105"]


# --------------------------------------------------------------------------- templates


def test_a_template_gets_only_its_declared_params() -> None:
    """A param the template does not declare is JD402; reaching outside the declared data
    (`profile.__class__`, `trigger.__dict__`, a method of a string) is a compile error too."""
    found = compile_here(
        HEADER
        + 'send email offer_confirmation transactional { offer: "x", secret: profile.segment }\n'
        "send email offer_confirmation { offer: profile.__class__ }\n"
        "send email offer_confirmation { offer: trigger.__dict__ }\n"
        "send email offer_confirmation { offer: customer_id.upper }\n"
        "exit done\n"
    )
    assert [c for c, _ in found] == ["JD402", "JD203", "JD202", "JD301"]


def test_every_message_carries_exactly_its_templates_declared_params() -> None:
    """At run time a channel receives, for rendering, the template's declared params and
    nothing else: no profile, no event, no journey variable beyond them."""
    templates = Catalog()
    load_templates(EXAMPLES / "templates.yaml", templates, Diagnostics(), Span.point("t", 1, 1), {})
    channels = {c: RecordingChannel(c) for c in ("email", "sms", "zns", "push", "inapp")}
    profiles = MemoryProfileStore()
    from journeydsl.runtime.profiles import parse_profile

    consent = {"email": True, "sms": True, "zns": True, "push": True}
    for cid in ("t1", "t2"):
        profiles.add(parse_profile(profile_line(cid, True, consent)))
    clock = SteppableClock(datetime(2026, 1, 5, 10, 0, tzinfo=ICT))
    engine = Engine(
        [compiled(j) for j in JOURNEYS],
        events=MemoryEventStore(),
        profiles=profiles,
        state=MemoryStateStore(),
        clock=clock,
        channels=channels,
        unhandled="withhold",
    )
    for cid, activated in (("t1", False), ("t2", True)):
        engine.ingest(
            {
                "customer_id": cid,
                "type": "card_issued",
                "at": clock.now().isoformat(),
                "data": {"card_id": f"k-{cid}", "product": "gold"},
            }
        )
        if activated:
            engine.ingest(
                {
                    "customer_id": cid,
                    "type": "card_activated",
                    "at": clock.now().isoformat(),
                    "data": {"card_id": f"k-{cid}"},
                }
            )
    for _ in range(40):
        clock.advance(timedelta(days=1))
        engine.tick()
    sent = [m for c in channels.values() for m in c.delivered]
    assert len({m.template for m in sent}) >= 5
    for m in sent:
        assert set(m.params) == set(templates.templates[m.template].params), m.template


# --------------------------------------------------------------------------- events


def _engine_with_one_waiting_customer() -> tuple[Engine, MemoryStateStore, SteppableClock]:
    state = MemoryStateStore()
    clock = SteppableClock(datetime(2026, 1, 5, 10, 0, tzinfo=ICT))
    engine = Engine(
        [compiled(j) for j in JOURNEYS],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore(),
        state=state,
        clock=clock,
        unhandled="withhold",  # no gateways: the campaign looks at state, not deliveries
    )
    engine.ingest(
        {
            "customer_id": "c1",
            "type": "card_issued",
            "at": clock.now().isoformat(),
            "data": {"card_id": "k1", "product": "gold"},
        }
    )
    return engine, state, clock


VALID: dict[str, dict[str, Any]] = {
    "card_activated": {"card_id": "k1"},
    "transaction": {"amount": 5000, "currency": "VND", "merchant": "Tiki", "category": "shopping"},
}


@pytest.mark.parametrize(
    "breaker",
    [*gen.BREAKERS, *(("tx", b) for b in gen.FIELD_BREAKERS["transaction"])],
    ids=lambda b: repr(b)[:40],
)
def test_a_bad_event_is_quarantined_and_leaves_the_instance_untouched(breaker: Any) -> None:
    """Each corruption of an event (contract or catalog) is quarantined with a reason; the
    customer's waiting instance is exactly as before, and a good event still moves it on."""
    engine, state, clock = _engine_with_one_waiting_customer()
    before = state.instances_of("c1")
    etype = "transaction" if breaker[0] == "tx" else "card_activated"
    good: dict[str, Any] = {"customer_id": "c1", "type": etype, "at": clock.now().isoformat()}
    good["data"] = dict(VALID[etype])
    where, value = breaker[1] if breaker[0] == "tx" else breaker
    result = engine.ingest(gen.breaking(good, where, value, "bad-1"))
    assert result.quarantined is not None
    assert state.instances_of("c1") == before
    activated = engine.ingest({**good, "type": "card_activated", "data": {"card_id": "k1"}})
    assert activated.resumed == ["onboarding_new_cardholder/c1/1"]


def test_a_fraction_in_a_field_the_catalog_does_not_type_enters_the_journey() -> None:
    """An entry event with an extra field holding a JSON fraction (`"score": 0.5`) enters the
    customer: it is kept as an exact decimal (a float used to crash the engine while it stored the
    trigger, and `journeydsl run` on every restart)."""
    engine, state, clock = _engine_with_one_waiting_customer()
    result = engine.ingest(
        {
            "customer_id": "c2",
            "type": "card_issued",
            "at": clock.now().isoformat(),
            "data": {"card_id": "k2", "product": "gold", "score": 0.5, "geo": [10.75, 1e300]},
        }
    )
    assert result.entered == ["onboarding_new_cardholder/c2/1"]
    (inst,) = state.instances_of("c2")
    assert inst["trigger"]["score"] == {"$dec": "0.5"}


def test_a_catalog_path_with_a_nul_byte_is_a_diagnostic() -> None:
    """`uses events "ev\\x00.yaml"` is JD105 in both spellings (found by atheris: the operating
    system refuses the name, and looking it up raised ValueError)."""
    dsl = 'journey j\nuses events "ev\x00.yaml"\noutcomes done\nentry on card_issued\nexit done\n'
    assert [c for c, _ in compile_here(dsl)] == ["JD105"]
    yml = 'journey: j\nuses: {events: "ev\\0.yaml"}\nentry: {event: x}\nsteps: [{exit: done}]\n'
    assert [c for c, _ in compile_here(yml, "nul.yaml")] == ["JD105"]


@pytest.mark.parametrize("zone", ["Asia", "Asia/" + "x" * 300])
def test_a_time_zone_that_names_a_folder_or_is_too_long_is_a_diagnostic(zone: str) -> None:
    """`timezone "Asia"` (a folder of the zone database) or an overlong name is JD105 (found by
    atheris: zoneinfo raised IsADirectoryError / OSError through the compiler)."""
    found = compile_here(HEADER + f'timezone "{zone}"\nexit done\n')
    assert [c for c, _ in found] == ["JD105"]


def test_json_nested_too_deeply_is_quarantined_by_journeydsl_run(tmp_path: Path) -> None:
    """A line nested 100,000 deep (json.loads raises RecursionError) is quarantined with its
    line number; the run goes on."""
    events = tmp_path / "e.jsonl"
    events.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    err = io.StringIO()
    code = journeydsl_run(
        [str(j) for j in JOURNEYS],
        db=tmp_path / "s.sqlite",
        events=str(events),
        actions=tmp_path / "a.jsonl",
        err=err,
    )
    assert code == 0
    assert f"{events}:1: quarantined: the JSON nests too deeply" in err.getvalue()


def test_a_bad_event_does_not_move_journeydsl_runs_clock(tmp_path: Path) -> None:
    """An event dated 9999 (refused) does not fire everyone's timers on its way to quarantine:
    the next valid event still finds the customer waiting."""
    issued = {
        "customer_id": "c1",
        "type": "card_issued",
        "at": "2026-01-05T10:00:00+07:00",
        "data": {"card_id": "k1", "product": "gold"},
    }
    future = {**issued, "type": "transaction", "at": "9999-12-31T23:00:00+00:00"}
    activated = {**issued, "type": "card_activated", "at": "2026-01-06T10:00:00+07:00"}
    activated["data"] = {"card_id": "k1"}
    events = tmp_path / "e.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in (issued, future, activated)))
    profiles = tmp_path / "p.jsonl"
    consent = {"email": True, "sms": True}
    profiles.write_text(json.dumps(profile_line("c1", False, consent)) + "\n")
    err = io.StringIO()
    actions = tmp_path / "a.jsonl"
    journeydsl_run(
        [str(j) for j in JOURNEYS],
        db=tmp_path / "s.sqlite",
        events=str(events),
        actions=actions,
        profiles=profiles,
        err=err,
    )
    assert f"{events}:2: quarantined: 'at' is out of range" in err.getvalue()
    sent = [json.loads(line)["template"] for line in actions.read_text().splitlines()]
    assert sent == ["welcome_activation_guide", "new_cardholder_promotions", "install_digital_app"]


def test_event_data_depth_limit_is_what_the_contract_documents() -> None:
    """The data of an event may nest MAX_DATA_DEPTH levels; the limit is documented."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "reliability.md").read_text()
    assert f"{MAX_DATA_DEPTH} levels" in doc


# --------------------------------------------------------------------------- found by the campaign


def test_behaviour_file_with_a_control_character_is_an_input_error() -> None:
    """A NUL in a behaviour (or policy) file is an InputError naming file and line."""
    with pytest.raises(InputError):
        load_behaviour("b.yaml", "start: \x00\n")


def test_behaviour_file_with_a_recursive_alias_is_an_input_error() -> None:
    """`a: &a [*a]` in a behaviour file is an InputError, not a RecursionError."""
    with pytest.raises(InputError):
        load_behaviour("b.yaml", "a: &a [*a]\n")


def test_behaviour_file_alias_bomb_is_refused_as_too_large() -> None:
    """A behaviour file whose aliases expand to 100,000 nodes is refused as too large."""
    lol = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 5):
        lol.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    with pytest.raises(InputError) as caught:
        load_behaviour("b.yaml", "\n".join(lol) + "\n")
    assert "alias" in str(caught.value)


def test_behaviour_file_with_the_time_zone_asia_is_an_input_error() -> None:
    """A behaviour file giving the time zone "Asia" (a folder of the zone database) is an
    InputError naming the line."""
    text = (EXAMPLES / "behaviour" / "onboarding.yaml").read_text(encoding="utf-8")
    with pytest.raises(InputError):
        load_behaviour("b.yaml", text.replace("Asia/Shanghai: 0.03", "Asia: 0.03"))


def test_simulate_reader_quarantines_json_nested_too_deeply(tmp_path: Path) -> None:
    """`journeydsl simulate --events` reports a line nested 100,000 deep as a problem."""
    path = tmp_path / "e.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    events, problems = read_events(path, {})
    assert (events, len(problems)) == ([], 1)


def test_profiles_loader_reports_json_nested_too_deeply(tmp_path: Path) -> None:
    """A profile line nested 100,000 deep is a problem with its line, not a crash."""
    path = tmp_path / "p.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        assert store.load_profiles_jsonl(path)[0] == 0


@pytest.mark.parametrize("zone", ["Asia", "A" * 300])
def test_profiles_loader_reports_a_time_zone_that_is_a_folder(tmp_path: Path, zone: str) -> None:
    """A profile whose time zone is "Asia" or an overlong name is a problem with its line."""
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"customer_id": "c1", "timezone": zone}) + "\n")
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        loaded, problems, _ = store.load_profiles_jsonl(path)
    assert (loaded, len(problems)) == (0, 1)


@pytest.mark.parametrize(
    "blob",
    [b'{"customer_id": "c\\ud800"}\n', b'{"customer_id": "c\xed\xa0\x80"}\n'],
    ids=["escaped-surrogate", "invalid-utf8"],
)
def test_profiles_loader_reports_text_that_is_not_unicode(tmp_path: Path, blob: bytes) -> None:
    """A profile line that is not valid Unicode is a problem with its line, not a crash."""
    path = tmp_path / "p.jsonl"
    path.write_bytes(blob)
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        loaded, problems, _ = store.load_profiles_jsonl(path)
    assert (loaded, len(problems)) == (0, 1)
