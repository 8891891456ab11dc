"""The do-not-contact list (ids, phone numbers, a file, a profile attribute or tag) and message
labels (``[QC]``) handed to the channel."""

from __future__ import annotations

from pathlib import Path

from journeydsl.runtime.policies import builtin_profile
from journeydsl.runtime.policies.evaluator import normalise_phone
from journeydsl.runtime.protocols import Profile
from tests.runtime.policies.harness import (
    ONE_SMS,
    ONE_TRANSACTIONAL,
    compile_journey,
    ev,
    harness,
    local,
    policies,
    profile,
)


def _sms(text: str, policy: object, *profiles: Profile) -> dict[str, list[str]]:
    at = local("2026-01-05 10:00")
    h = harness([compile_journey(text)], profiles, start=at, policy=policy)  # type: ignore[arg-type]
    h.feed([ev(p.customer_id, "card_activated", at, card_id="k") for p in profiles])
    h.advance(local("2026-01-06 00:00"))
    return {p.customer_id: [m.template for m in h.delivered(p.customer_id)] for p in profiles}


def test_phone_numbers_are_compared_in_national_form() -> None:
    """+84 912 345 678, 0084912345678, 84912345678 and 0912-345-678 are the same number."""
    forms = ["+84 912 345 678", "0084912345678", "84912345678", "0912-345-678"]
    assert {normalise_phone(f) for f in forms} == {"0912345678"}


def test_a_number_that_lost_its_leading_zero_is_the_same_number(tmp_path: Path) -> None:
    """912345678 (an export dropped the 0) is 0912345678, in a list file and in a profile: a
    listed customer whose number an export mangled used to get marketing."""
    assert normalise_phone("912345678") == "0912345678"
    assert normalise_phone("2838221234") == "02838221234"
    (tmp_path / "dnc.txt").write_text("912345678\n", encoding="utf-8")
    policy = policies("do_not_contact: {file: dnc.txt}\n", tmp_path)
    got = _sms(ONE_SMS, policy, profile("c-1", phone="0912 345 678"), profile("c-2", phone="0988"))
    assert got == {"c-1": [], "c-2": ["install_digital_app"]}


def test_do_not_contact_by_id_phone_file_attribute_and_tag(tmp_path: Path) -> None:
    """Each way of listing a customer withholds marketing; an unlisted customer gets it."""
    (tmp_path / "dnc.txt").write_text("# registry export\nc-file\n+84 988 000 111\n")
    policy = policies(
        """
do_not_contact:
  customers: [c-listed]
  phones: ["0977 000 222"]
  file: dnc.txt
  attribute: do_not_contact
  tag: opted_out
""",
        tmp_path,
    )
    got = _sms(
        ONE_SMS,
        policy,
        profile("c-listed"),
        profile("c-phone", phone="+84977000222"),
        profile("c-file"),
        profile("c-file-phone", phone="0988000111"),
        profile("c-attr", do_not_contact=True),
        Profile("c-tag", {}, {"sms": True}, "Asia/Ho_Chi_Minh", frozenset({"opted_out"})),
        profile("c-free", phone="0912345678"),
    )
    assert got == {
        "c-listed": [],
        "c-phone": [],
        "c-file": [],
        "c-file-phone": [],
        "c-attr": [],
        "c-tag": [],
        "c-free": ["install_digital_app"],
    }


def test_a_phone_held_as_a_number_is_listed_and_one_without_digits_is_not() -> None:
    """A profile phone that an export made a number (912345678, 84912345678) matches the listed
    0912345678, and "n/a" matches no listed number: numbers used to be skipped (marketing SMS
    went to a listed customer)."""
    policy = policies('do_not_contact: {phones: ["+84 912 345 678"]}\n')
    got = _sms(
        ONE_SMS,
        policy,
        profile("c-int", phone=912345678),
        profile("c-intl", phone=84912345678),
        profile("c-text", phone="0912 345 678"),
        profile("c-none", phone="n/a"),
        profile("c-other", phone=988000111),
    )
    assert got == {
        "c-int": [],
        "c-intl": [],
        "c-text": [],
        "c-none": ["install_digital_app"],
        "c-other": ["install_digital_app"],
    }


def test_a_numeric_customer_id_in_the_list_file_lists_that_customer(tmp_path: Path) -> None:
    """A line of digits (a CIF number as customer id) lists the customer with that id as well as
    that phone number: it used to be read as a phone number only."""
    (tmp_path / "dnc.txt").write_text("10000001\n", encoding="utf-8")
    policy = policies("do_not_contact: {file: dnc.txt}\n", tmp_path)
    got = _sms(ONE_SMS, policy, profile("10000001"), profile("10000002"))
    assert got == {"10000001": [], "10000002": ["install_digital_app"]}


def test_do_not_contact_spares_transactional_messages() -> None:
    """The list covers marketing by default: a transactional SMS still reaches the customer."""
    policy = policies("do_not_contact: {customers: [c1]}\n")
    assert _sms(ONE_TRANSACTIONAL, policy, profile("c1")) == {"c1": ["activation_reminder"]}


def test_vn_decree_91_reads_the_do_not_contact_attribute() -> None:
    """vn_decree_91 withholds marketing from profiles marked do_not_contact: true, with a reason."""
    at = local("2026-01-05 10:00")
    h = harness(
        [compile_journey(ONE_SMS)],
        [profile("c1", do_not_contact=True)],
        start=at,
        policy=builtin_profile("vn_decree_91"),
    )
    h.feed([ev("c1", "card_activated", at, card_id="k")])
    assert h.suppressed("c1") == ["on the do-not-contact list (marketing)"]


def test_a_do_not_contact_mark_that_is_not_true_or_false_lists_the_customer() -> None:
    """A profile marked "true", 1 or "yes" (a CSV export's values) is on the list: the mark
    fails closed and the reason quotes it; false, or no mark, is not listed."""
    at = local("2026-01-05 10:00")
    marks: dict[str, object] = {"c1": "true", "c2": 1, "c3": "yes", "c4": False}
    h = harness(
        [compile_journey(ONE_SMS)],
        [profile(c, do_not_contact=m) for c, m in marks.items()] + [profile("c5")],
        start=at,
        policy=builtin_profile("vn_decree_91"),
    )
    h.feed([ev(c, "card_activated", at, card_id="k") for c in ("c1", "c2", "c3", "c4", "c5")])
    assert h.suppressed("c1") == [
        "on the do-not-contact list (marketing); do_not_contact is 'true', not true or false: "
        "taken as listed"
    ]
    assert h.suppressed("c2") == [
        "on the do-not-contact list (marketing); do_not_contact is 1, not true or false: "
        "taken as listed"
    ]
    assert len(h.suppressed("c3")) == 1
    assert [len(h.delivered(c)) for c in ("c4", "c5")] == [1, 1]


def test_the_label_goes_to_the_channel_and_into_the_action() -> None:
    """vn_decree_91: marketing SMS carry label [QC]; transactional SMS and marketing email none."""
    text = ONE_SMS + (
        "send email new_cardholder_promotions marketing\n"
        "send sms activation_reminder transactional { round: 1 } fallback none\n"
    )
    at = local("2026-01-05 10:00")
    h = harness(
        [compile_journey(text)], [profile("c1")], start=at, policy=builtin_profile("vn_decree_91")
    )
    h.feed([ev("c1", "card_activated", at, card_id="k")])
    labels = {(m.channel, m.template): m.label for m in h.delivered("c1")}
    assert labels == {
        ("sms", "install_digital_app"): "[QC]",
        ("email", "new_cardholder_promotions"): "",
        ("sms", "activation_reminder"): "",
    }
    sends = [a for a in h.actions if a["kind"] == "send"]
    assert [a.get("label") for a in sends if a["channel"] == "sms"].count("[QC]") == 1


def test_a_changed_list_file_is_read_again(tmp_path: Path) -> None:
    """A running engine follows the do-not-contact file: an id added later withholds from then."""
    import os

    listing = tmp_path / "dnc.txt"
    listing.write_text("nobody\n")
    policy = policies("do_not_contact: {file: dnc.txt}\n", tmp_path)
    at = local("2026-01-05 10:00")
    h = harness([compile_journey(ONE_SMS)], [profile("c1")], start=at, policy=policy)
    h.feed([ev("c1", "card_activated", at, card_id="k1")])
    listing.write_text("c1\n")
    os.utime(listing, (1_900_000_000, 1_900_000_000))  # a new modification time, whatever the clock
    h.feed([ev("c1", "card_activated", local("2026-01-05 11:00"), card_id="k2")])
    assert h.times("c1") == ["2026-01-05 10:00"]
    assert h.suppressed("c1") == ["on the do-not-contact list (marketing)"]
