"""Deterministic demo data of any size: the same seed and day always build the same program.

Everything is dated relative to a reference day (`today`), so the dashboards look alive
whenever the demo is loaded: closed deals over the last six quarters, open pipeline over the
next two, touches over the last months, status for the last weeks. Rows are built as plain
dicts and inserted in bulk; ids come from a seeded generator, so two loads with the same seed
and day produce the same rows, ids included.

One file, over 500 lines, because the demo is one story (partners, deals with believable
histories, people, weeks, registrations, tiers) told by one builder; a sixth of it is the word
lists names are drawn from.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from isv import auth
from isv.analytics.tiers import tier_review
from isv.auth import Viewer
from isv.errors import ValidationError
from isv.models import (
    OPEN_STAGES,
    CommissionStructure,
    DealRegistration,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    RegistrationLink,
    StageHistory,
    Task,
    User,
    WeeklyStatus,
)
from isv.rules import tiers as tier_rules
from isv.rules.defaults import DEFAULT_PROBABILITY
from isv.rules.registration import Customer
from isv.services import audit, status
from isv.services.commissions import applicable_structure
from isv.services.registrations import find_conflicts, tell_earlier
from isv.services.settings import DEFAULT_PENDING_DAYS, local_today

# (email, password, role, name): the accounts `make run`, the README and the browser tests use.
DEMO_LOGINS: list[tuple[str, str, str, str]] = [
    ("maya.chen@example.com", "demo-vp-2026", "vp", "Maya Chen"),
    ("sam.okafor@example.com", "demo-admin-2026", "admin", "Sam Okafor"),
    ("lena.brooks@example.com", "demo-sales-2026", "sales_manager", "Lena Brooks"),
    ("diego.ramirez@example.com", "demo-sales-2026", "sales_manager", "Diego Ramírez"),
    ("priya.nair@example.com", "demo-partner-2026", "partnership_manager", "Priya Nair"),
    ("tom.becker@example.com", "demo-partner-2026", "partnership_manager", "Tom Becker"),
    ("aisha.karim@example.com", "demo-partner-2026", "partnership_manager", "Aisha Karim"),
    ("jonas.lindqvist@example.com", "demo-partner-2026", "partnership_manager",
     "Jonas Lindqvist"),
]

# A partnership manager who left: owns nothing now, but old deals still name them, and the
# account cannot sign in (inactive, no password).
FORMER_USER = ("alex.morgan@example.com", "partnership_manager", "Alex Morgan")

LOST_REASONS = (
    "Lost to competitor",
    "No budget this fiscal year",
    "Project cancelled",
    "Stayed with incumbent vendor",
    "Pushed to next fiscal year",
    "Failed security review",
    "Champion left the company",
    "Price too high",
    "No decision",
    "Chose to build in-house",
)

# (name, domain, what they sell): fictional ISVs, eight per domain.
PARTNERS: tuple[tuple[str, str, str], ...] = (
    ("Ledgerline", "FinOps", "Cloud cost allocation and showback for multi-cloud estates."),
    ("CloudTally", "FinOps", "Real-time spend anomaly detection for AWS, Azure and GCP."),
    ("Costwise Labs", "FinOps", "Kubernetes cost optimisation and rightsizing."),
    ("Meterly", "FinOps", "Usage-based billing and metering for SaaS platforms."),
    ("Budgetbeam", "FinOps", "Forecasts and budget guardrails for engineering teams."),
    ("Unitcraft", "FinOps", "Unit economics dashboards: cost per customer and feature."),
    ("Spendlane", "FinOps", "Commitment and reserved-instance management."),
    ("Finstack Analytics", "FinOps", "FinOps reporting for finance and procurement."),
    ("Sentinel Forge", "Security", "Cloud security posture management."),
    ("Keyward", "Security", "Secrets management and automatic key rotation."),
    ("Bastion Grid", "Security", "Zero-trust access to infrastructure."),
    ("Cipherpath", "Security", "Field-level encryption and tokenisation."),
    ("Trustlayer", "Security", "Identity governance and access reviews."),
    ("Vaultwise", "Security", "Privileged access management for hybrid cloud."),
    ("Shieldpoint", "Security", "Runtime threat detection for containers."),
    ("Northgate Security", "Security", "Managed detection and response."),
    ("Tracepoint", "Observability", "Distributed tracing built on OpenTelemetry."),
    ("Logvane", "Observability", "Log analytics with tiered retention."),
    ("Signal Hill", "Observability", "Synthetic monitoring and uptime checks."),
    ("Metricsmith", "Observability", "Time-series metrics at scale."),
    ("Spanwise", "Observability", "Application performance monitoring for microservices."),
    ("Lumen Telemetry", "Observability", "Network and edge observability."),
    ("Pulseboard", "Observability", "Incident dashboards and SLO tracking."),
    ("Oriel Insights", "Observability", "Real-user monitoring and session analytics."),
    ("Shipyard CI", "DevOps", "Hosted CI pipelines with build caching."),
    ("Forgeflow", "DevOps", "Internal developer portal and service catalogue."),
    ("Pipewright", "DevOps", "Deployment pipelines as code."),
    ("Kubecraft", "DevOps", "Managed Kubernetes platform operations."),
    ("Releaseo", "DevOps", "Feature flags and progressive delivery."),
    ("Gitgrove", "DevOps", "Self-hosted source control and code review."),
    ("Infraloom", "DevOps", "Infrastructure-as-code drift detection."),
    ("Runbook Works", "DevOps", "Incident response automation and on-call."),
    ("Snapvault", "Data/Backup", "Snapshot-based backup for cloud workloads."),
    ("Coldharbor Data", "Data/Backup", "Immutable archive storage for compliance."),
    ("Restorepoint", "Data/Backup", "Disaster recovery orchestration."),
    ("Datakeep", "Data/Backup", "Backup for SaaS applications such as M365 and Salesforce."),
    ("Mirrorwave", "Data/Backup", "Cross-region database replication."),
    ("Tidewater Backup", "Data/Backup", "Managed backup for Kubernetes volumes."),
    ("Archivist", "Data/Backup", "Data lifecycle and retention management."),
    ("Replicant Systems", "Data/Backup", "Continuous data protection for virtual machines."),
)

# Typical deal size per domain, in dollars; each partner scales it.
_DOMAIN_DEAL = {"FinOps": 32_000, "Security": 58_000, "Observability": 45_000,
                "DevOps": 28_000, "Data/Backup": 50_000}

_FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Sofia", "Ethan", "Mia", "Mateo",
    "Isabella", "James", "Chloe", "Daniel", "Grace", "Henry", "Zoe", "Samuel", "Nora", "Leo",
    "Hannah", "Ravi", "Mei", "Kenji", "Fatima", "Omar", "Ingrid", "Pablo", "Anika", "Tariq",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Wilson", "Anderson", "Thomas",
    "Moore", "Jackson", "Lee", "Harris", "Clark", "Lewis", "Walker", "Young", "Patel", "Kim",
    "Nguyen", "Schmidt", "Rossi", "Dubois", "Tanaka", "Kowalski", "Haddad", "Silva", "Novak",
    "Jensen", "O'Brien",
)
_CUSTOMER_WORDS = (
    "Acme", "Bluebird", "Cobalt", "Crescent", "Evergreen", "Falcon", "Granite", "Harbor",
    "Ironwood", "Juniper", "Keystone", "Lakeshore", "Meridian", "Nimbus", "Oakridge",
    "Pinnacle", "Quarry", "Redwood", "Summit", "Tidal", "Vantage", "Willow", "Zenith", "Atlas",
    "Beacon", "Cascade", "Delta", "Ember", "Frontier", "Glacier", "Horizon", "Indigo",
    "Jetstream", "Kestrel", "Lighthouse", "Monarch", "Northstar", "Orchard", "Polaris",
    "Quantum", "Riverbend", "Sterling", "Trident", "Unity", "Vertex", "Westbrook", "Alder",
    "Birch", "Cedar", "Driftwood", "Fairview", "Greenfield", "Highland", "Ivory", "Jade",
    "Kingsley", "Larkspur", "Magnolia", "Silverline", "Bright Harbor",
)
_CUSTOMER_KINDS = (
    "Health", "Logistics", "Bank", "Retail Group", "Insurance", "Energy", "Foods", "Labs",
    "Systems", "Media", "Airlines", "Manufacturing", "Capital", "Pharma", "Telecom", "Motors",
    "Hotels", "University", "Software", "Payments", "Realty", "Biotech", "Shipping", "Games",
    "Credit Union",
)
_DEAL_NOTES = (
    "Renewal of an existing contract.",
    "Expansion into the EU region.",
    "Champion is the VP of Engineering.",
    "Competitive: incumbent is fighting to keep the account.",
    "Multi-year term under discussion.",
    "Security questionnaire in progress.",
    "Procurement wants a marketplace private offer.",
    "Joint proposal with the partner's solutions architect.",
)
_TOUCHES: dict[str, tuple[str, ...]] = {
    "call": ("Pipeline review call with {contact}",
             "Call with {contact} about next steps on {customer}",
             "Weekly sync with {contact}"),
    "meeting": ("Co-selling planning with {contact}",
                "Enablement session for the {partner} sales team",
                "Met {contact} to agree on next quarter's targets"),
    "email": ("Sent the updated commission schedule to {contact}",
              "Shared {customer} opportunity details with {contact}",
              "Followed up on marketing development funds"),
    "qbr": ("Quarterly business review with {partner} leadership",),
    "event": ("Joint webinar with {partner} on {domain}",
              "Shared booth with {partner} at a regional cloud summit"),
    "other": ("Updated the {partner} listing on the partner portal",
              "Reviewed the {partner} integration roadmap"),
}
_TASKS = (
    "Send the MSA redline to {partner}",
    "Prepare the QBR deck for {partner}",
    "Follow up with {customer} on POC results",
    "Update the forecast for {partner} deals",
    "Schedule a joint webinar with {partner}",
    "Review commission terms with {partner}",
    "Collect case study quotes from {customer}",
    "Book enablement training for the {partner} team",
    "Chase the signed order form from {customer}",
    "Refresh the {partner} battlecard",
)
_ACCOMPLISHED = (
    "Ran the QBR with {partner}",
    "Moved {customer} to proposal with {partner}",
    "Onboarded two new {partner} sellers",
    "Agreed on a joint account plan with {partner}",
    "Closed the commission renewal with {partner}",
)
_UPCOMING = (
    "Pipeline review with {partner}",
    "Push {customer} through security review",
    "Prepare next quarter's plan with {partner}",
    "Joint customer workshop with {partner}",
)
_BLOCKERS = (
    "Waiting on legal for the {partner} MSA changes",
    "{customer} procurement is slow to respond",
    "Need a solutions engineer for the {customer} POC",
    "Partner portal access is still pending for {partner}",
)


@dataclass(frozen=True)
class DemoSummary:
    """What a demo load inserted."""

    seed: int
    today: date
    counts: Mapping[str, int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def database_is_empty(session: Session) -> bool:
    """True when the database has no users yet (a fresh install)."""
    return session.scalar(select(User.id).limit(1)) is None


def load_demo(*, session: Session, opportunities: int = 800, seed: int = 42,
              today: date | None = None, viewer: Viewer | None = None) -> DemoSummary:
    """Fill an empty database with a believable partner program as of `today` (default: today)."""
    if isinstance(opportunities, bool) or not isinstance(opportunities, int) or opportunities < 0:
        raise ValidationError("opportunities", "must be a whole number, 0 or more")
    if not database_is_empty(session):
        raise ValidationError("database", "already has data; demo data loads only into an "
                                          "empty database")
    today = today or local_today()
    viewer = viewer or Viewer.system("demo")
    # bcrypt is slow on purpose: hash each distinct demo password once.
    hashes = {pw: auth.hash_password(pw) for pw in dict.fromkeys(p for _, p, _, _ in DEMO_LOGINS)}
    build = _Builder(seed=seed, today=today)
    counts: dict[str, int] = {}

    def put(model: type, rows: list[dict[str, Any]]) -> None:
        _bulk_insert(session, model, rows)
        name = model.__tablename__
        counts[name] = counts.get(name, 0) + len(rows)

    put(User, build.users(hashes))
    put(Partner, build.partners())
    put(CommissionStructure, build.structures())
    put(PartnerActivity, build.activities())
    counts[Opportunity.__tablename__] = 0
    counts[StageHistory.__tablename__] = 0
    for deals, history in build.deals(opportunities):
        put(Opportunity, deals)
        put(StageHistory, history)
    put(QuarterlyGoal, build.goals())
    put(WeeklyStatus, build.weekly_status())
    for generation in build.tasks():
        put(Task, generation)
    counts.update(_registrations(session, build))
    _tiers(session, today)
    audit.record(session, actor=viewer, action="demo_load", entity_type="database",
                 entity_id=None,
                 new={"seed": seed, "today": today, "opportunities": opportunities, **counts})
    session.flush()
    return DemoSummary(seed=seed, today=today, counts=counts)


# Deals partners registered through their links, so the Registrations page and the bell have
# something to decide: one new customer, one already in another partner's open deal, the same
# new customer again from a second partner (flagged both ways), and one rejected.
_REGISTRATIONS = (  # (partner plan index, customer, contact, value, days ago, rejected because)
    (0, "Harborview Logistics", "ops@harborview-logistics.example", 84_000, 3, None),
    (1, None, "it@{domain}.example", 56_000, 2, None),
    (2, "Harborview Logistics Inc.", "cto@harborview-logistics.example", 91_000, 1, None),
    (3, "Quillon Dental Group", "admin@quillon.example", 22_000, 9,
     "Direct account: the customer already buys from us without a partner"),
)


def _registrations(session: Session, build: _Builder) -> dict[str, int]:
    """A link for four partners and one registration through each, as the public form makes
    them (conflicts found by the registration rule); none approved, so the deals are as built.
    """
    if len(build.plans) < len(_REGISTRATIONS):
        return {}
    made = 0
    for index, customer, contact, value, days_ago, rejected in _REGISTRATIONS:
        plan = build.plans[index]
        if customer is None:  # a customer another partner already has an open deal with
            customer = session.scalar(
                select(Opportunity.customer_name)
                .where(Opportunity.stage.in_(OPEN_STAGES), Opportunity.partner_id != plan.id)
                .order_by(Opportunity.deal_value.desc(), Opportunity.id).limit(1))
            if customer is None:
                continue
            contact = contact.format(domain=_slug(customer))
        submitted = build.midnight - timedelta(days=days_ago, hours=15)
        link = RegistrationLink(id=build.new_id(), partner_id=plan.id,
                                token_hash=auth.token_hash(secrets.token_urlsafe(32)),
                                created_by_id=plan.owner, created_at=submitted - timedelta(days=20),
                                expires_at=submitted + timedelta(days=70),
                                last_used_at=submitted, window_start=submitted, window_count=1)
        session.add(link)
        session.flush()  # before the registration that refers to it
        who = Customer.of(customer, contact)
        registration = DealRegistration(
            id=build.new_id(), partner_id=plan.id, link_id=link.id, customer_name=customer,
            customer_key=who.key, contact_email=contact, email_domain=who.domain,
            deal_value=Decimal(value), expected_close_date=build.today + timedelta(days=75),
            notes="Registered through the partner's link", status="pending",
            conflicts=find_conflicts(session, who, now=submitted), submitted_at=submitted,
            expires_at=submitted + timedelta(days=DEFAULT_PENDING_DAYS))
        if rejected:
            registration.status, registration.reject_reason = "rejected", rejected
            registration.decided_at = submitted + timedelta(days=1)
            registration.decided_by_id = plan.owner
        session.add(registration)
        session.flush()
        tell_earlier(session, registration)
        made += 1
    return {RegistrationLink.__tablename__: made, DealRegistration.__tablename__: made}


def _tiers(session: Session, today: date) -> None:
    """Each partner holds the tier its figures earned at the last review, as a running program
    does; since then one in five has grown and one in ten has slipped, so this quarter's
    review has a few moves to decide.
    """
    review = tier_review(session=session, viewer=Viewer.system("demo"), as_of=today)
    tiers = review.tiers
    for k, suggestion in enumerate(review.suggestions):
        held = tier_rules.rank(tiers, suggestion.move.to_tier)
        if k % 5 == 1:
            held = max(held - 1, -1)             # grew since: a promotion to decide
        elif k % 10 == 3:
            held = min(held + 1, len(tiers) - 1)  # slipped since: a demotion to decide
        session.execute(update(Partner).where(Partner.id == suggestion.partner_id)
                        .values(tier=tiers[held].name if held >= 0 else None))


_CHUNK = 5000


def _bulk_insert(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    # Core executemany on the mapped table: its column types (Money, UTCDateTime) still
    # convert every value, but it skips the ORM's per-row bookkeeping, four times slower here.
    statement = insert(model.__table__)
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start:start + _CHUNK])


# --- dates ------------------------------------------------------------------------------

def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _add_quarters(quarter_start: date, n: int) -> date:
    months = quarter_start.year * 12 + quarter_start.month - 1 + 3 * n
    return date(months // 12, months % 12 + 1, 1)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class _Terms:
    """A commission structure as the applicable-structure rule reads it."""

    id: uuid.UUID
    structure_type: str
    commission_percentage: Decimal
    min_deal_size: Decimal
    max_deal_size: Decimal | None
    effective_from: date
    effective_to: date | None


@dataclass
class _PartnerPlan:
    id: uuid.UUID
    name: str
    domain: str
    slug: str
    owner: uuid.UUID
    joined: date
    contact: str
    weight: float
    win_rate: float
    size: float
    new: bool = False
    neglected: bool = False
    never_touched: bool = False
    terms: list[_Terms] = field(default_factory=list)


class _Builder:
    """Makes the rows, table by table; one seeded generator drives every choice."""

    def __init__(self, *, seed: int, today: date):
        self.rng = random.Random(seed)
        self._id_rng = random.Random(f"isv-demo-ids:{seed}")
        self.today = today
        self.midnight = datetime.combine(today, time(0), tzinfo=UTC)
        self.q0 = _quarter_start(today)
        self.window_start = _add_quarters(self.q0, -6)
        self.window_end = _add_quarters(self.q0, 3) - timedelta(days=1)
        self.monday0 = today - timedelta(days=today.weekday())
        self.plans: list[_PartnerPlan] = []
        # filled while deals are made, read by goals, status and tasks
        self.won_by_user_quarter: dict[tuple[uuid.UUID | None, date], Decimal] = defaultdict(
            Decimal)
        self.won_by_quarter: dict[date, Decimal] = defaultdict(Decimal)
        self.week_stats: dict[tuple[uuid.UUID, date], dict[str, int]] = defaultdict(
            lambda: {"partner_touches": 0, "new_opportunities": 0, "deals_won": 0,
                     "revenue_won": 0})
        self.open_deals_of: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
        self.customers_of: dict[uuid.UUID, list[str]] = defaultdict(list)

    # helpers -----------------------------------------------------------------------------

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._id_rng.getrandbits(128), version=4)

    def at(self, day: date) -> datetime:
        """A moment in office hours on `day` (a day before the reference day)."""
        moment = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(
            seconds=self.rng.randint(8 * 3600, 18 * 3600))
        return min(moment, self.midnight - timedelta(minutes=1))

    def person(self) -> tuple[str, str]:
        return self.rng.choice(_FIRST_NAMES), self.rng.choice(_LAST_NAMES)

    def customer(self) -> str:
        return f"{self.rng.choice(_CUSTOMER_WORDS)} {self.rng.choice(_CUSTOMER_KINDS)}"

    # users -------------------------------------------------------------------------------

    def users(self, hashes: dict[str, str]) -> list[dict[str, Any]]:
        rows = []
        self.sales: list[uuid.UUID] = []
        self.pms: list[uuid.UUID] = []
        self.names: dict[uuid.UUID, str] = {}
        founded = self.window_start - timedelta(days=420)
        people = [(e, pw, r, n, True) for e, pw, r, n in DEMO_LOGINS]
        people.append((FORMER_USER[0], None, FORMER_USER[1], FORMER_USER[2], False))
        for email, password, role, name, active in people:
            uid = self.new_id()
            first, last = name.split(" ", 1)
            created = self.at(founded + timedelta(days=self.rng.randint(0, 300)))
            rows.append(dict(
                id=uid, email=email, first_name=first, last_name=last, role=role,
                is_active=active, password_hash=hashes[password] if password else None,
                last_login_at=None, failed_login_count=0, failed_login_window_start=None,
                locked_until=None, created_at=created, updated_at=created,
            ))
            self.names[uid] = name
            if not active:
                self.former = uid
            elif role == "vp":
                self.vp = uid
            elif role == "sales_manager":
                self.sales.append(uid)
            elif role == "partnership_manager":
                self.pms.append(uid)
        # The former manager left a little over nine months ago.
        self.former_left = self.today - timedelta(days=280)
        return rows

    # partners ----------------------------------------------------------------------------

    def partners(self) -> list[dict[str, Any]]:
        rng = self.rng
        n = len(PARTNERS)
        owners = [self.pms[k % len(self.pms)] for k in range(n)]
        rng.shuffle(owners)
        new = set(rng.sample(range(n), 4))
        established = [k for k in range(n) if k not in new]
        neglected = set(rng.sample(established, 6))
        never_touched = min(new)
        rows = []
        for k, (name, domain, pitch) in enumerate(PARTNERS):
            slug = _slug(name)
            if k in new:
                joined = self.today - timedelta(days=rng.randint(70, 150))
            else:
                joined = self.window_start - timedelta(days=rng.randint(30, 500))
            first, last = self.person()
            plan = _PartnerPlan(
                id=self.new_id(), name=name, domain=domain, slug=slug, owner=owners[k],
                joined=joined, contact=f"{first} {last}",
                weight=rng.lognormvariate(0, 0.6) * (0.35 if k in new else 1.0),
                win_rate=rng.uniform(0.28, 0.6), size=rng.lognormvariate(0, 0.3),
                new=k in new, neglected=k in neglected, never_touched=k == never_touched,
            )
            if plan.neglected:
                health = rng.choice(("needs_attention", "at_risk"))
            elif plan.new:
                health = "healthy"
            else:
                health = rng.choices(("excellent", "healthy", "needs_attention", "at_risk"),
                                     weights=(30, 50, 15, 5))[0]
            notes = pitch
            if plan.new:
                notes += " Joined the program recently; first joint deals in flight."
            created = self.at(joined)
            rows.append(dict(
                id=plan.id, name=name, domain=domain, website=f"https://www.{slug}.example",
                primary_contact_email=f"{_slug(first)}.{_slug(last)}@{slug}.example",
                primary_contact_name=plan.contact, relationship_health=health,
                owner_id=plan.owner, notes=notes, created_at=created, updated_at=created,
            ))
            self.plans.append(plan)
        self.cum_weights = []
        total = 0.0
        for plan in self.plans:
            total += plan.weight
            self.cum_weights.append(total)
        return rows

    def structures(self) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        base_percent = {"referral": (10, 12.5, 15), "msp": (15, 18, 20),
                        "reseller": (20, 25, 30)}
        for plan in self.plans:
            primary = rng.choices(("referral", "msp", "reseller"), weights=(50, 20, 30))[0]
            kinds = [primary]
            if rng.random() < 0.2:
                kinds.append(rng.choice([t for t in ("referral", "msp", "reseller")
                                         if t != primary]))
            # New partners sign their agreement some weeks after joining, so their first
            # deals may have no applicable structure (shown as such, never dropped).
            signed = plan.joined + timedelta(days=rng.randint(20, 60) if plan.new else 0)
            for kind in kinds:
                percent = Decimal(str(rng.choice(base_percent[kind])))
                periods: list[tuple[date, date | None, Decimal, str]] = []
                if signed < self.today - timedelta(days=330) and rng.random() < 0.4:
                    ended = self.today - timedelta(days=rng.randint(60, 240))
                    periods.append((signed, ended, percent, "Original agreement."))
                    periods.append((ended + timedelta(days=1), None, percent + Decimal("2.5"),
                                    "Renegotiated with better rates after a strong year."))
                else:
                    ends = None
                    if rng.random() < 0.15:
                        ends = self.today + timedelta(days=rng.randint(20, 200))
                    periods.append((signed, ends, percent,
                                    "Agreement up for renewal." if ends else "Standard terms."))
                lifetime = kind == "msp" or (kind == "referral" and rng.random() < 0.2)
                tiered = kind == "referral" and rng.random() < 0.6
                for start, end, pct, note in periods:
                    bands = ([(Decimal(0), Decimal("49999.99"), pct),
                              (Decimal(50000), None, pct + 5)] if tiered
                             else [(Decimal(0), None, pct)])
                    for low, high, band_pct in bands:
                        sid = self.new_id()
                        text = note + (" Tiered by deal size." if tiered else "")
                        rows.append(dict(
                            id=sid, partner_id=plan.id, structure_type=kind,
                            commission_percentage=band_pct, is_lifetime=lifetime,
                            min_deal_size=low, max_deal_size=high, effective_from=start,
                            effective_to=end, notes=text,
                            created_at=self.at(min(start, self.today - timedelta(days=1))),
                        ))
                        plan.terms.append(_Terms(sid, kind, band_pct, low, high, start, end))
            # The order the commissions service lists them in, so ties break the same way.
            plan.terms.sort(key=lambda t: (-t.effective_from.toordinal(), t.structure_type,
                                           t.min_deal_size))
        return rows

    # touches -----------------------------------------------------------------------------

    def activities(self) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        types = ("call", "meeting", "email", "qbr", "event", "other")
        for plan in self.plans:
            if plan.never_touched:
                continue
            if plan.neglected:
                last = self.today - timedelta(days=rng.randint(46, 120))
            else:
                last = self.today - timedelta(days=rng.randint(1, 25))
            start = max(plan.joined, self.today - timedelta(days=200))
            days = []
            day = last
            while day >= start:
                days.append(day)
                day -= timedelta(days=max(2, int(rng.expovariate(1 / 11))))
            for day in reversed(days):
                kind = rng.choices(types, weights=(30, 20, 35, 4, 5, 6))[0]
                user = plan.owner if rng.random() < 0.85 else rng.choice(self.sales)
                summary = rng.choice(_TOUCHES[kind]).format(
                    contact=plan.contact, partner=plan.name, customer=self.customer(),
                    domain=plan.domain)
                rows.append(dict(
                    id=self.new_id(), partner_id=plan.id, user_id=user, activity_type=kind,
                    occurred_on=day, summary=summary, created_at=self.at(day),
                ))
                week = day - timedelta(days=day.weekday())
                self.week_stats[(user, week)]["partner_touches"] += 1
        return rows

    # deals -------------------------------------------------------------------------------

    def deals(self, n: int) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        deals: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for index in range(n):
            self.deal(index, deals, history)
            if len(deals) >= _CHUNK:
                yield deals, history
                deals, history = [], []
        if deals:
            yield deals, history

    def deal(self, index: int, deals: list, history: list) -> None:
        rng = self.rng
        today = self.today
        plan = rng.choices(self.plans, cum_weights=self.cum_weights)[0]

        # When the deal closes (or is expected to): 70% in the past six quarters, skewed to
        # recent ones so the program shows growth, the rest over the next two quarters.
        if rng.random() < 0.7:
            span = (today - self.window_start).days
            offset = rng.uniform(0, span) if rng.random() < 0.5 else rng.triangular(0, span, span)
            close = min(self.window_start + timedelta(days=int(offset)),
                        today - timedelta(days=1))
        else:
            close = today + timedelta(days=rng.randint(0, (self.window_end - today).days))
        if close < plan.joined + timedelta(days=35):
            close = plan.joined + timedelta(days=rng.randint(35, 120))

        base = _DOMAIN_DEAL[plan.domain] * plan.size
        dollars = min(max(rng.lognormvariate(math.log(base), 0.7), 5_000), 900_000)
        step = 500 if dollars < 100_000 else 1_000
        value = Decimal(int(round(dollars / step) * step))
        cycle = min(int(rng.uniform(25, 110) * (1 + float(value) / 200_000)), 300)

        if close < today:
            if close >= today - timedelta(days=75) and rng.random() < 0.25:
                stage = rng.choices(OPEN_STAGES, weights=(10, 20, 30, 40))[0]  # slipped
            elif rng.random() < plan.win_rate:
                stage = "closed_won"
            else:
                stage = "closed_lost"
        else:
            ahead = (close - today).days / max(1, (self.window_end - today).days)
            weights = ((15, 20, 30, 35) if ahead < 0.33 else
                       (25, 30, 30, 15) if ahead < 0.66 else (45, 30, 20, 5))
            stage = rng.choices(OPEN_STAGES, weights=weights)[0]
        closed = stage in ("closed_won", "closed_lost")

        created = max(close - timedelta(days=cycle), plan.joined)
        if stage == "closed_won":
            path = [*OPEN_STAGES, "closed_won"]
        elif stage == "closed_lost":
            lost_at = rng.choices(range(4), weights=(25, 30, 25, 20))[0]
            path = [*OPEN_STAGES[:lost_at + 1], "closed_lost"]
        else:
            reached = OPEN_STAGES.index(stage)
            path = list(OPEN_STAGES[:reached + 1])
            created = min(created, today - timedelta(days=rng.randint(1, 20) + 10 * reached))

        r = rng.random()
        if closed and close < self.former_left and r < 0.15:
            assigned = self.former
        elif r < 0.55:
            assigned = plan.owner
        elif r < 0.93:
            assigned = rng.choice(self.sales)
        elif r < 0.96:
            assigned = self.vp
        else:
            assigned = None
        actor = assigned or plan.owner

        # Stage moves: the first at creation, the close on the close day, the rest between;
        # open deals last moved some time before today.
        created_at = self.at(created)
        end_at = self.at(close) if closed else self.midnight - timedelta(hours=1)
        moves = sorted(rng.uniform(0, 1) for _ in range(len(path) - (2 if closed else 1)))
        span = (end_at - created_at).total_seconds()
        stamps = [created_at] + [created_at + timedelta(seconds=int(span * m)) for m in moves]
        if closed:
            stamps.append(end_at)
        for k in range(1, len(stamps)):
            if stamps[k] <= stamps[k - 1]:
                stamps[k] = stamps[k - 1] + timedelta(seconds=1)

        deal_id = self.new_id()
        lost_reason = rng.choice(LOST_REASONS) if stage == "closed_lost" else None
        for k, to_stage in enumerate(path):
            history.append(dict(
                id=self.new_id(), opportunity_id=deal_id,
                from_stage=path[k - 1] if k else None, to_stage=to_stage, changed_by=actor,
                changed_at=stamps[k], notes=lost_reason if to_stage == "closed_lost" else None,
                synthesized=False,
            ))

        if closed:
            expected = max(close + timedelta(days=int(rng.gauss(-10, 20))),
                           created + timedelta(days=14))
        else:
            expected = close
        # Most deals are registered under the agreement that applies when they close; the
        # rest leave it to the rule (spec/KPIS.md), which picks the same one.
        terms = applicable_structure(plan.terms, close_date=close, deal_value=value)
        own_terms = terms.id if terms is not None and rng.random() < 0.6 else None
        customer = self.customer()
        contact = None
        if rng.random() < 0.8:
            first, last = self.person()
            contact = f"{_slug(first)}.{_slug(last)}@{_slug(customer)}.example"
        deals.append(dict(
            id=deal_id,
            external_id=f"CRM-{index + 1:07d}" if rng.random() < 0.35 else None,
            partner_id=plan.id, assigned_user_id=assigned, customer_name=customer,
            customer_contact_email=contact, deal_value=value, stage=stage,
            probability=DEFAULT_PROBABILITY[stage], expected_close_date=expected,
            actual_close_date=close if closed else None,
            commission_structure_id=own_terms,
            lost_reason=lost_reason,
            notes=rng.choice(_DEAL_NOTES) if rng.random() < 0.12 else None,
            version=1, updated_by_id=actor, created_at=created_at, updated_at=stamps[-1],
        ))

        # What goals, weekly status and tasks will refer to.
        if stage == "closed_won":
            quarter = _quarter_start(close)
            self.won_by_user_quarter[(assigned, quarter)] += value
            self.won_by_quarter[quarter] += value
        if assigned is not None:
            created_week = created - timedelta(days=created.weekday())
            self.week_stats[(assigned, created_week)]["new_opportunities"] += 1
            if stage == "closed_won":
                stats = self.week_stats[(assigned, close - timedelta(days=close.weekday()))]
                stats["deals_won"] += 1
                stats["revenue_won"] += int(value)
            if not closed and len(self.open_deals_of[assigned]) < 12:
                self.open_deals_of[assigned].append((deal_id, customer))
        if len(self.customers_of[plan.id]) < 8:
            self.customers_of[plan.id].append(customer)

    # goals, status, tasks ----------------------------------------------------------------

    def goals(self) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        quarters = []
        quarter = self.window_start
        while quarter <= _add_quarters(self.q0, 1):
            quarters.append(quarter)
            quarter = _add_quarters(quarter, 1)
        team = self.sales + self.pms

        def rounded(amount: float) -> Decimal:
            return Decimal(max(5_000, int(round(amount / 5_000)) * 5_000))

        targets: dict[tuple[uuid.UUID, date], Decimal] = {}
        for user in team:
            for quarter in quarters:
                won = self.won_by_user_quarter.get((user, quarter), Decimal(0))
                if quarter < self.q0:
                    target = rounded(float(won or 50_000) * rng.uniform(0.85, 1.25))
                else:
                    prior = [self.won_by_user_quarter.get((user, _add_quarters(self.q0, -k)),
                                                          Decimal(0)) for k in (1, 2)]
                    basis = max(float(sum(prior)) / 2, 50_000)
                    lift = rng.uniform(1.05, 1.2) if quarter == self.q0 else rng.uniform(1.1, 1.3)
                    target = rounded(basis * lift)
                    if quarter > self.q0:
                        won = Decimal(0)
                targets[(user, quarter)] = target
                rows.append(self._goal(user, quarter, target, won, None))
        # No separate "team number" goal for the VP: KPIS.md sums everyone's revenue
        # targets, so one would count the team's target twice.
        return rows

    def _goal(self, user: uuid.UUID, quarter: date, target: Decimal, progress: Decimal,
              notes: str | None) -> dict[str, Any]:
        set_on = min(quarter - timedelta(days=10), self.today - timedelta(days=1))
        created = self.at(set_on)
        return dict(
            id=self.new_id(), user_id=user, quarter=(quarter.month - 1) // 3 + 1,
            year=quarter.year, revenue_target=target, current_progress=progress,
            goal_type="revenue", notes=notes, created_at=created, updated_at=created,
        )

    def _fill(self, template: str, user: uuid.UUID) -> str:
        owned = [p for p in self.plans if p.owner == user] or self.plans
        plan = self.rng.choice(owned)
        customers = self.customers_of.get(plan.id) or [self.customer()]
        return template.format(partner=plan.name, customer=self.rng.choice(customers))

    def weekly_status(self) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        filers = self.sales + self.pms
        skipper = self.pms[-1]  # forgot to file last week: the team view shows a gap
        for user in filers:
            for back in range(12, 0, -1):
                week = self.monday0 - timedelta(weeks=back)
                if (user == skipper and back == 1) or rng.random() < 0.08:
                    continue
                stats = dict(self.week_stats.get((user, week)) or {
                    "partner_touches": 0, "new_opportunities": 0, "deals_won": 0,
                    "revenue_won": 0})
                created = self.at(week + timedelta(days=3))
                submitted = max(self.at(week + timedelta(days=4)),
                                created + timedelta(minutes=30))
                rows.append(self._status(user, week, stats, "submitted", created, submitted))
            if self.monday0 < self.today and rng.random() < 0.5:
                created = self.at(self.today - timedelta(days=1))
                rows.append(self._status(user, self.monday0, None, "draft", created, None))
        return rows

    def _status(self, user, week, stats, state, created, submitted) -> dict[str, Any]:
        rng = self.rng
        done = [self._fill(t, user) for t in rng.sample(_ACCOMPLISHED, 2)]
        if stats and stats["deals_won"]:
            won = stats["deals_won"]
            done.insert(0, f"Closed {won} deal{'s' if won > 1 else ''} worth "
                           f"${stats['revenue_won']:,}")
        upcoming = [self._fill(t, user) for t in rng.sample(_UPCOMING, 2)]
        blocker = self._fill(rng.choice(_BLOCKERS), user) if rng.random() < 0.4 else None
        return dict(
            id=self.new_id(), user_id=user, week_start_date=week,
            accomplishments="\n".join(f"- {line}" for line in done),
            upcoming_tasks="\n".join(f"- {line}" for line in upcoming),
            blockers=f"- {blocker}" if blocker else None, kpi_metrics=_metrics(stats),
            state=state,
            submitted_at=submitted, created_at=created, updated_at=submitted or created,
        )

    def tasks(self) -> list[list[dict[str, Any]]]:
        """Tasks in generations: originals first, so a rolled-over task's source exists."""
        rng = self.rng
        today = self.today
        yesterday = today - timedelta(days=1)
        generations: list[list[dict[str, Any]]] = [[], [], [], []]
        priorities = ("low", "medium", "high", "urgent")

        def add(user, *, status, due, completed=None, source=None, count=0, created=None):
            template = rng.choice(_TASKS)
            title = self._fill(template, user)
            opportunity = None
            open_deals = self.open_deals_of.get(user)
            if open_deals and "{customer}" in template:
                # A task about a customer points at one of the user's open deals.
                opportunity, customer = rng.choice(open_deals)
                title = template.format(partner=self._fill("{partner}", user),
                                        customer=customer)
            if created is None:
                created = min(due - timedelta(days=rng.randint(3, 20)), yesterday)
            created_at = self.at(created)
            row = dict(
                id=self.new_id(), user_id=user, opportunity_id=opportunity, title=title,
                description=None, priority=rng.choices(priorities, weights=(20, 45, 25, 10))[0],
                status=status, due_date=due, completed_date=completed, rolled_over_from=source,
                rollover_count=count, created_at=created_at,
                updated_at=self.at(completed) if completed else created_at,
            )
            generations[count].append(row)
            return row

        for user in [self.vp, *self.sales, *self.pms]:
            for _ in range(6):
                due = today - timedelta(days=rng.randint(3, 70))
                done = min(due + timedelta(days=rng.randint(-3, 2)), yesterday)
                row = add(user, status="completed", due=due, completed=done)
                if row["created_at"].date() > done:
                    row["created_at"] = row["updated_at"] = self.at(done)
            add(user, status="cancelled", due=today - timedelta(days=rng.randint(5, 40)))
            for _ in range(3):
                add(user, status=rng.choice(("pending", "in_progress")),
                    due=today + timedelta(days=rng.randint(1, 21)))
            for _ in range(2):
                add(user, status=rng.choice(("pending", "in_progress")),
                    due=today - timedelta(days=rng.randint(1, 14)))
        # Rollovers: each week an unfinished task moves to the next Monday's list.
        for n, user in enumerate([*self.sales, *self.pms]):
            length = 3 if n == 0 else rng.choice((1, 1, 2))
            due = self.monday0 - timedelta(weeks=length) + timedelta(days=rng.randint(0, 4))
            previous = None
            for k in range(length + 1):
                week = self.monday0 - timedelta(weeks=length - k)
                status = "rolled_over" if k < length else "pending"
                created = None if k == 0 else min(week, yesterday)
                row = add(user, status=status, due=due + timedelta(weeks=k),
                          source=previous["id"] if previous else None, count=k, created=created)
                if previous is not None:
                    row["title"] = previous["title"]
                    row["opportunity_id"] = previous["opportunity_id"]
                    row["priority"] = previous["priority"]
                    previous["updated_at"] = row["created_at"]
                previous = row
        return [g for g in generations if g]


def _metrics(stats: dict[str, int] | None) -> dict[str, int] | None:
    """Name the week's numbers as the status page does, so weeks compare in Team status."""
    if stats is None:
        return None
    return {status.KPI_TOUCHES: stats["partner_touches"],
            status.KPI_NEW_DEALS: stats["new_opportunities"],
            status.KPI_DEALS_WON: stats["deals_won"],
            status.KPI_REVENUE_WON: stats["revenue_won"]}
