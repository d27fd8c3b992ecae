"""Deal registration's conflict rule: which customer names and contact emails are the same."""

from __future__ import annotations

import pytest

from isv.rules.registration import Customer, customer_key, email_domain, matching, same_customer


@pytest.mark.parametrize("name", [
    "Acme", "ACME", "acme", "Acme, Inc.", "Acme Inc", "ACME INCORPORATED", "Acme Corp.",
    "Acme Corporation", "Acme Ltd", "Acme Limited", "Acme GmbH", "Acme GmbH & Co. KG",
    "Acme S.A.", "Acme LLC", "  Acme  ", "Acme, Ltd.", "Âcmé", "Acme Co., Ltd.",
])
def test_legal_forms_case_punctuation_and_accents_do_not_make_another_customer(name):
    assert customer_key(name) == "acme"


def test_words_are_compared_without_their_spaces_and_punctuation():
    assert customer_key("Data Dog") == customer_key("Datadog") == customer_key("data-dog")
    assert customer_key("AT&T Inc.") == customer_key("AT & T") == "att"
    assert customer_key("O'Reilly Media") == customer_key("OReilly Media")


def test_a_legal_form_is_dropped_only_at_the_end():
    assert customer_key("AG Insurance") == "aginsurance"
    assert customer_key("Co-op Bank") == "coopbank"
    assert customer_key("Acme Robotics") != customer_key("Acme")


def test_a_name_of_nothing_but_a_legal_form_or_punctuation_matches_nothing():
    assert customer_key("Inc.") == "" and customer_key("...") == "" and customer_key("") == ""
    assert customer_key(None) == ""
    assert same_customer(Customer.of("Inc.", None), Customer.of("Ltd", None)) == ()


def test_the_email_domain_is_the_company_one_and_free_mail_is_none():
    assert email_domain("Jo.Buyer@Acme.COM") == "acme.com"
    assert email_domain("jo@eu.acme.com") == "eu.acme.com"
    for free in ("jo@gmail.com", "jo@outlook.com", "jo@proton.me", "jo@GMX.de"):
        assert email_domain(free) is None
    assert email_domain(None) is None and email_domain("not an email") is None


def test_same_customer_by_name_by_domain_or_both():
    acme = Customer.of("Acme, Inc.", "buyer@acme.com")
    assert same_customer(acme, Customer.of("ACME Corporation", None)) == ("name",)
    assert same_customer(acme, Customer.of("Acme Robotics Division", "cto@acme.com")) == (
        "email domain",)
    assert same_customer(acme, Customer.of("Acme GmbH", "it@acme.com")) == (
        "name", "email domain")
    assert same_customer(acme, Customer.of("Globex", "ops@globex.com")) == ()


def test_two_customers_on_free_mail_are_not_the_same_for_it():
    one = Customer.of("Initech", "peter@gmail.com")
    other = Customer.of("Globex", "hank@gmail.com")
    assert same_customer(one, other) == ()


def test_matching_lists_the_others_that_collide_and_why():
    new = Customer.of("Acme Ltd", "buyer@acme.com")
    others = [(1, Customer.of("Acme", None)), (2, Customer.of("Globex", "x@globex.com")),
              (3, Customer.of("Something Else", "ceo@acme.com"))]
    assert matching(new, others) == [(1, ("name",)), (3, ("email domain",))]
