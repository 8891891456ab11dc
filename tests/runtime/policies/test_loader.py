"""Policy files: validation with positions, extends (built-in profiles and files), overlays by
rule name, per-journey overrides and disable."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from journeydsl.runtime.policies import BUILTIN_PROFILES, PolicyEngine, builtin_profile
from journeydsl.runtime.policies.loader import InputError, load_policies
from journeydsl.runtime.policies.model import FrequencyCap, Label, QuietHours
from tests.runtime.policies.harness import policies


def _errors(text: str, tmp: Path | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        policies(text, tmp)
    return [f"{e.line}:{e.column}: {e.message}" for e in caught.value.errors]


def test_every_built_in_rule_names_its_source() -> None:
    """Each rule of each built-in profile loads and says where it comes from."""
    for name in BUILTIN_PROFILES:
        profile = builtin_profile(name)
        rules: list[QuietHours | FrequencyCap | Label] = [
            *profile.quiet_hours,
            *profile.frequency_caps,
            *profile.labels,
        ]
        assert rules
        assert all(r.source and "Decree 91/2020/ND-CP" in r.source for r in rules)
        assert profile.description
        assert "not legal advice" in profile.description


def test_mistakes_are_reported_at_their_line_and_column() -> None:
    """Unknown fields (with a hint), bad values and bad times are each at their position."""
    assert _errors(
        "quiet_hours:\n"
        "  - {from: '22:00', to: '22:00'}\n"
        "frequency_caps:\n"
        "  - {max: 0, window: 1fortnight, acton: drop}\n"
        "holdout: {percent: 5, sallt: x}\n"
    ) == [
        "2:25: quiet_hours[0].to: 'from' and 'to' are the same time: the range would be empty",
        "4:11: frequency_caps[0].max: Input should be greater than or equal to 1, found 0",
        "4:22: frequency_caps[0].window: '1fortnight' is not a duration; write e.g. 24h, 7d, "
        "1w or 1d12h",
        "4:34: unknown field 'acton' in 'frequency_caps[0]' — did you mean 'action'?",
        "5:23: unknown field 'sallt' in 'holdout' — did you mean 'salt'?",
    ]


def test_a_duration_past_ten_years_is_an_error_that_says_the_limit() -> None:
    """A cap's window of 20 digits of days (an OverflowError once) or of 3661 days is an error
    at the value naming the longest duration, 3660d; 3660d itself is taken."""
    assert _errors(
        "frequency_caps:\n"
        "  - {max: 3, window: 99999999999999999999d}\n"
        "  - {max: 3, window: 3661d}\n"
        "throughput:\n"
        "  - {max: 1, per: 523w}\n"
    ) == [
        "2:22: frequency_caps[0].window: '99999999999999999999d' is longer than 3660d, the "
        "longest duration allowed",
        "3:22: frequency_caps[1].window: '3661d' is longer than 3660d, the longest duration "
        "allowed",
        "5:19: throughput[0].per: '523w' is longer than 3660d, the longest duration allowed",
    ]
    taken = policies("frequency_caps:\n  - {max: 3, window: 3660d}\n")
    assert taken.frequency_caps[0].window == timedelta(days=3660)


def test_an_unknown_queue_time_zone_is_an_error_at_its_value() -> None:
    """A ticket queue's time zone must be an IANA zone: Mars/X, or the folder Asia, is an error
    at the value, not the default zone at run time; a real zone is kept."""
    assert _errors(
        "queues:\n"
        "  - {queue: telesales, capacity: 3, timezone: Mars/X}\n"
        "  - {queue: retention, capacity: 3, timezone: Asia}\n"
    ) == [
        "2:47: queues[0].timezone: unknown time zone 'Mars/X' (use an IANA name)",
        "3:47: queues[1].timezone: unknown time zone 'Asia' (use an IANA name)",
    ]
    taken = policies("queues:\n  - {queue: telesales, capacity: 3, timezone: Asia/Bangkok}\n")
    assert taken.queues[0].timezone == "Asia/Bangkok"


def test_yaml_syntax_errors_and_empty_files() -> None:
    """A YAML syntax error and an empty file are errors with a position, not tracebacks."""
    assert _errors("quiet_hours: [\n")[0].startswith("2:1: invalid YAML")
    assert _errors("") == ["1:1: the policy file is empty"]


def test_unquoted_times_are_read_as_times_of_day() -> None:
    """YAML 1.1 reads 22:00 as the number 1320; the model turns it back into 22:00."""
    p = policies("quiet_hours:\n  - {from: 22:00, to: 7:00}\n")
    assert (p.quiet_hours[0].start, p.quiet_hours[0].end) == (time(22, 0), time(7, 0))


def test_an_unquoted_time_past_midnight_is_refused_as_written() -> None:
    """An unquoted 25:00 (YAML 1.1 reads 1500) is refused quoting 25:00, not the number."""
    assert _errors("quiet_hours:\n  - {from: 25:00, to: 7:00}\n") == [
        "2:12: quiet_hours[0].from: '25:00' is not a time of day; write it as HH:MM, e.g. \"22:00\""
    ]


def test_extends_a_file_that_extends_the_profile(tmp_path: Path) -> None:
    """A chain file → file → vn_decree_91 applies bottom up; a rule of the same name replaces."""
    (tmp_path / "group.yaml").write_text(
        "extends: vn_decree_91\nholdout: {percent: 2, salt: group}\n", encoding="utf-8"
    )
    p = policies(
        "extends: group.yaml\n"
        "holdout: {percent: 5}\n"
        "frequency_caps:\n"
        "  - {name: vn91_marketing_sms_per_24h, channels: [sms, zns], max: 3, window: 24h}\n",
        tmp_path,
    )
    assert (p.holdout.percent, p.holdout.salt) == (5, "group")
    (cap,) = p.frequency_caps
    assert cap.channels == ("sms", "zns")
    assert cap.window == timedelta(hours=24)
    assert [q.name for q in p.quiet_hours] == ["vn91_marketing_sms_hours"]


def test_extends_mistakes(tmp_path: Path) -> None:
    """Unknown profiles (with a hint), missing files and cycles are reported at the entry."""
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    assert _errors("extends: [vn_decree_19, nowhere.yaml]\n", tmp_path) == [
        "1:11: unknown profile 'vn_decree_19' — did you mean 'vn_decree_91'? (built-in "
        "profiles: vn_decree_91; or a .yaml file)",
        "1:25: policy file 'nowhere.yaml' does not exist",
    ]
    with pytest.raises(InputError, match="extends itself"):
        load_policies(tmp_path / "a.yaml")


def test_disable_switches_inherited_rules_off_and_names_must_exist() -> None:
    """disable removes vn_decree_91's label; an unknown name is an error at its position."""
    p = policies("extends: vn_decree_91\ndisable: [vn91_qc_label]\n")
    assert p.labels == ()
    assert [q.name for q in p.quiet_hours] == ["vn91_marketing_sms_hours"]
    assert _errors("extends: vn_decree_91\ndisable: [vn91_qc_labl]\n") == [
        "2:11: no inherited rule is named 'vn91_qc_labl' — did you mean 'vn91_qc_label'?"
    ]


def test_an_unknown_disabled_rule_gets_a_did_you_mean_or_the_rules_it_can_switch_off() -> None:
    """A misspelt `disable` name (top level or a journey's) names the close rule, else lists
    the inherited rules: it used to say only that no rule had that name."""
    assert _errors(
        "extends: vn_decree_91\n"
        "disable: [vn91_marketing_sms_per24h]\n"
        "journeys:\n"
        "  alerts: {disable: [quiet]}\n"
    ) == [
        "2:11: no inherited rule is named 'vn91_marketing_sms_per24h' — did you mean "
        "'vn91_marketing_sms_per_24h'?",
        "4:22: no inherited rule is named 'quiet' (the rules it can switch off: "
        "vn91_marketing_sms_hours, vn91_marketing_sms_per_24h, vn91_qc_label)",
    ]


def test_a_listed_phone_without_its_digits_is_an_error_at_its_entry() -> None:
    """`phones: ["+84 912 345 678", "abc"]` is an error at "abc": it used to load, and matched
    every profile whose phone has no digits."""
    assert _errors('do_not_contact:\n  phones: ["+84 912 345 678", "abc", "12345"]\n') == [
        "2:31: do_not_contact.phones[1]: 'abc' is not a phone number: write its digits, e.g. "
        "'+84 912 345 678' or '0912345678'",
        "2:38: do_not_contact.phones[2]: '12345' is not a phone number: write its digits, e.g. "
        "'+84 912 345 678' or '0912345678'",
    ]


def test_a_holdout_percent_with_a_third_decimal_is_an_error() -> None:
    """`percent: 5.555` is refused at its line (it used to be rounded to 5.56 without a word);
    two decimals are fine."""
    assert _errors("holdout: {percent: 5.555}\n") == [
        "1:20: holdout.percent: 5.555 has more than two decimals; the holdout is drawn in "
        "hundredths of a percent: write e.g. 5.55"
    ]
    assert policies("holdout: {percent: 12.25}\n").holdout.percent == 12.25


def test_rule_names_are_unique_within_a_section() -> None:
    """Two caps with one name are refused (overrides find rules by name)."""
    assert _errors(
        "frequency_caps:\n  - {name: a, max: 1, window: 1d}\n  - {name: a, max: 2, window: 7d}\n"
    ) == ["2:3: frequency_caps: two frequency_caps rules are named 'a'"]


def test_per_journey_overrides_overlay_field_by_field() -> None:
    """An override replaces only what it writes (the salt stays) and disables for X only."""
    engine = PolicyEngine(
        policies(
            "extends: vn_decree_91\n"
            "holdout: {percent: 5, salt: s}\n"
            "journeys:\n"
            "  alerts:\n"
            "    holdout: {percent: 0}\n"
            "    disable: [vn91_marketing_sms_per_24h]\n"
        )
    )
    alerts, other = engine.rules("alerts").policies, engine.rules("other").policies
    assert (alerts.holdout.percent, alerts.holdout.salt) == (0, "s")
    assert alerts.frequency_caps == ()
    assert (other.holdout.percent, len(other.frequency_caps)) == (5, 1)


def test_a_missing_do_not_contact_file_is_an_error(tmp_path: Path) -> None:
    """A do-not-contact file is resolved against the policy file and must exist."""
    assert _errors("do_not_contact: {file: dnc.txt}\n", tmp_path) == [
        "1:24: do-not-contact file 'dnc.txt' does not exist"
    ]


def test_an_empty_list_of_channels_or_categories_is_an_error() -> None:
    """`categories: []` on the do-not-contact list (or `channels: []` on a limit) would make the
    rule hold back nothing without a word: each is an error at its line."""
    assert _errors(
        "do_not_contact: {attribute: dnc, categories: []}\n"
        "throughput: [{channels: [], max: 5, per: 1s}]\n"
    ) == [
        "1:46: do_not_contact.categories: an empty list of categories makes the rule apply to "
        "nothing: name at least one, or leave the field out for its default",
        "2:25: throughput[0].channels: an empty list of channels makes the rule apply to "
        "nothing: name at least one, or leave the field out for its default",
    ]


def test_a_do_not_contact_file_unusable_when_loaded_is_an_error(tmp_path: Path) -> None:
    """A CSV export or a binary file named as the list is an error of the policy file at its
    line, as a missing one is, not a run that withholds all marketing without a word; a list
    of ids and numbers loads."""
    listing = tmp_path / "dnc.txt"
    listing.write_text("c-1\nc-2,0912345678\n", encoding="utf-8")
    assert _errors("do_not_contact: {file: dnc.txt}\n", tmp_path) == [
        "1:24: do-not-contact file 'dnc.txt' cannot be used: line 2: ',' in "
        "'c-2,0912345678'; write one customer id or phone number a line"
    ]
    listing.write_bytes(b"c-1\n\xff\xfe\n")
    assert _errors("do_not_contact: {file: dnc.txt}\n", tmp_path) == [
        "1:24: do-not-contact file 'dnc.txt' cannot be used: line 2 is not UTF-8 text"
    ]
    listing.write_text("c-1\n+84 912 345 678\n", encoding="utf-8")
    loaded = policies("do_not_contact: {file: dnc.txt}\n", tmp_path)
    assert loaded.do_not_contact.file == str(listing.resolve())


def test_consent_keys_only_fill_channel_and_category() -> None:
    """A consent key with another placeholder is refused."""
    assert _errors("consent: {keys: ['{channel}.{segment}']}\n")[0].endswith(
        "consent key '{channel}.{segment}' uses {segment}; only {channel} and {category} are "
        "filled in"
    )
