"""Deal registration's conflict rule: when two records name the same customer.

A partner types the customer as they know it ("ACME, Inc.", "Acme Corporation"), and the team
may have it as "Acme". Two records are the same customer when their names agree once
normalised (casefolded, accents and punctuation gone, legal-form words at the end dropped),
or when their contact emails share a company domain. A free-mail domain (gmail.com) says
nothing about the company, so it never matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Legal-form words dropped from the end of a name, as written once dots are gone ("S.A." is
# "sa"). Only at the end: "Co" in "Co-op Bank" or "AG" in "AG Insurance" stay.
LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd",
    "limited", "plc", "pty", "pte", "gmbh", "mbh", "ag", "kg", "kgaa", "ug", "ev", "sa", "sas",
    "sarl", "sasu", "srl", "spa", "sl", "bv", "nv", "vof", "ab", "oy", "oyj", "as", "asa",
    "aps", "se", "kk", "sro", "group", "holding", "holdings",
})
# Mail providers anyone signs up to: a shared domain there is no shared company.
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com",
    "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com",
    "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "mail.com", "mail.ru",
    "yandex.com", "yandex.ru", "zoho.com", "qq.com", "163.com", "126.com", "fastmail.com",
    "hey.com", "tutanota.com", "tuta.io", "orange.fr", "free.fr", "laposte.net", "libero.it",
    "btinternet.com", "comcast.net", "verizon.net", "att.net",
})
_DOTS = re.compile(r"[.'\u2019]")
_SEPARATORS = re.compile(r"[\W_]+")


def customer_key(name: str | None) -> str:
    """The customer's name as compared: "ACME, Inc." and "Acme Incorporated" both give "acme".

    Empty when nothing but punctuation and legal-form words is left; an empty key matches
    nothing.
    """
    if not name:
        return ""
    folded = unicodedata.normalize("NFKD", name.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = _SEPARATORS.sub(" ", _DOTS.sub("", folded)).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    if len(words) == 1 and words[0] in LEGAL_SUFFIXES:
        return ""
    # Joined without spaces: "Data Dog" and "Datadog" are one customer.
    return "".join(words)


def email_domain(email: str | None) -> str | None:
    """The company domain of a contact email; None for free mail or no address."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().casefold().rstrip(".")
    if not domain or domain in FREE_MAIL_DOMAINS:
        return None
    return domain


@dataclass(frozen=True)
class Customer:
    """What the rule compares of a record: its name's key and its contact's company domain."""

    key: str
    domain: str | None

    @classmethod
    def of(cls, name: str | None, email: str | None) -> Customer:
        return cls(key=customer_key(name), domain=email_domain(email))


def same_customer(a: Customer, b: Customer) -> tuple[str, ...]:
    """Why two records are the same customer: "name", "email domain", both, or neither."""
    reasons = []
    if a.key and a.key == b.key:
        reasons.append("name")
    if a.domain and a.domain == b.domain:
        reasons.append("email domain")
    return tuple(reasons)


def matching(new: Customer, others: Iterable[tuple[object, Customer]]
             ) -> list[tuple[object, tuple[str, ...]]]:
    """The others (any id, with their Customer) that are the same customer as `new`, and why."""
    found = []
    for ident, other in others:
        reasons = same_customer(new, other)
        if reasons:
            found.append((ident, reasons))
    return found
