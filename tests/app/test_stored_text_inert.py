"""Stored text is inert on every page: markup typed into any free-text field shows as typed.

Each free-text field holds a payload of HTML, script, a javascript: link, a remote image and
Markdown specials, tagged with the field's name. Then every page each role may use is drawn
(one signed-in AppTest per role, switching pages), and every element is read:
- whatever Streamlit renders as Markdown (bodies, labels, help, captions, alerts, headings)
  never holds a payload's markup unescaped: no live link, image, emphasis or colour;
- a plotly figure's text (axis labels, bar text, hover data, titles) holds it HTML-escaped
  (plotly reads <b>, <a href>, <br> in labels);
- each field's payload is shown somewhere, whole, as typed.
No page may use unsafe_allow_html; a grep checks the code.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict

from isv.auth import Viewer
from isv.db import session_scope
from isv.services import (
    alerts,
    goals,
    opportunities,
    partners,
    personal_tokens,
    registrations,
    sessions,
    status,
    tasks,
    users,
)
from isv.ui.nav import pages_for
from tests.app.conftest import LOGINS, login_as, plain

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("partner_name", "partner_notes", "deal_customer", "deal_notes", "lost_reason",
          "task_title", "status_text", "goal_notes", "user_name", "token_name",
          "registration_customer", "registration_notes", "reject_reason")


def payload(tag: str) -> str:
    return (f"<img src=x onerror=alert(1)><script>alert(2)</script>{tag} "
            f"[{tag}](javascript:alert(3)) ![i](http://evil.example/{tag}.png) "
            f"**{tag}** :red[{tag}] $x$")


# Markup that renders if it reaches Markdown unescaped (escape_md puts a backslash before
# each special character, so none of these can match escaped text).
LIVE_MARKDOWN = re.compile(r"(?<!\\)\[[^\]\\]*(?<!\\)\]\((?:javascript|http)"
                           r"|(?<!\\)\*\*[A-Z_]+(?<!\\)\*\*|(?<!\\):red(?<!\\)\[")
RAW_HTML = re.compile(r"<(?:img|script)\b")
# Fields Streamlit renders as Markdown, in any element's proto.
MARKDOWN_KEYS = {"body", "label", "help", "caption", "labels", "title", "text"}
# Elements that show their text literally (or are our own static HTML and scripts).
LITERAL = {"html", "code", "json", "arrowDataFrame", "arrowTable", "plotlyChart", "textInput",
           "textArea", "dataframe", "selectbox", "multiselect", "radio", "text", "imgs",
           "downloadButton"}


def test_no_code_passes_unsafe_allow_html():
    hits = [f"{p}:{n}" for p in sorted((ROOT / "isv").rglob("*.py")) + sorted(
        (ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "unsafe_allow_html" in line]
    assert hits == []


@pytest.fixture
def stored(app_db) -> tuple[dict[str, str], dict[str, str]]:
    """Every free-text field holds its payload; Pia (a partnership manager) owns the partner.

    Also the ?id= each detail page opens: the partner and the open deal.
    """
    system = Viewer.system("tests")
    texts = {field: payload(field.upper()) for field in FIELDS}
    today = date.today()
    monday = today - timedelta(days=today.weekday())
    with session_scope() as s:
        pia = sessions.find_user_by_email(s, LOGINS["partnership_manager"].email)
        pia_viewer = Viewer.of(pia)
        partner = partners.create_partner(session=s, viewer=system, name=texts["partner_name"],
                                          domain="FinOps", owner_id=pia.id,
                                          notes=texts["partner_notes"])
        deal = opportunities.create_opportunity(
            session=s, viewer=system, partner_id=partner.id,
            customer_name=texts["deal_customer"], deal_value="50000", stage="demo",
            notes=texts["deal_notes"], assigned_user_id=pia.id,
            expected_close_date=today + timedelta(days=3))
        opportunities.create_opportunity(
            session=s, viewer=system, partner_id=partner.id, customer_name="Lost Co",
            deal_value="20000", stage="closed_lost", lost_reason=texts["lost_reason"],
            actual_close_date=today, assigned_user_id=pia.id)
        tasks.create_task(session=s, viewer=pia_viewer, title=texts["task_title"],
                          due_date=today - timedelta(days=2))
        status.submit(session=s, viewer=pia_viewer, week_start_date=monday,
                      accomplishments=texts["status_text"], blockers=texts["status_text"])
        year, quarter = goals.current_quarter(today)
        goals.set_goal(session=s, viewer=pia_viewer, year=year, quarter=quarter,
                       goal_type="revenue", target="100000", notes=texts["goal_notes"])
        users.update_user(session=s, viewer=system, user_id=pia.id,
                          first_name=texts["user_name"][:100])
        personal_tokens.create_token(session=s, viewer=pia_viewer,
                                     name=texts["token_name"][:personal_tokens.NAME_MAX],
                                     scope="read", expires_in_days=30)
        link = registrations.create_link(session=s, viewer=pia_viewer, partner_id=partner.id,
                                         days=30).secret
        registrations.submit_registration(
            session=s, secret=link, customer_name=texts["registration_customer"],
            contact_email="buyer@payload.example", deal_value="1000",
            expected_close_date=today + timedelta(days=30), notes=texts["registration_notes"])
        rejected = registrations.submit_registration(
            session=s, secret=link, customer_name="Rejected Co",
            contact_email="buyer@rejected.example", deal_value="1000",
            expected_close_date=today + timedelta(days=30))
        registrations.reject_registration(session=s, viewer=pia_viewer,
                                          registration_id=rejected.id,
                                          reason=texts["reject_reason"])
        alerts.run_alert_rules(session=s)
        detail = {"pages/partner_detail.py": str(partner.id),
                  "pages/opportunity_detail.py": str(deal.id)}
        s.commit()
    texts["user_name"] = texts["user_name"][:100]
    texts["token_name"] = texts["token_name"][:personal_tokens.NAME_MAX]
    return texts, detail


def _strings(value, key=None):
    """(key, string) for every string in a proto dict, with the key that holds it."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        yield key, value


def _elements(node):
    """Every element under an AppTest node, depth first."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _elements(child)


def _check_page(at, page: str) -> set[str]:
    """Assert nothing renders live on the page; return the literal texts shown, for lookup."""
    assert not at.exception, (page, at.exception)
    shown: set[str] = set()
    for element in _elements(at._tree):
        proto = getattr(element, "proto", None)
        if proto is None or not hasattr(proto, "DESCRIPTOR"):
            continue
        kind = proto.WhichOneof("type") if "type" in [o.name for o in
                                                       proto.DESCRIPTOR.oneofs] else None
        data = MessageToDict(proto)
        if element.type == "plotly_chart" or kind == "plotlyChart":
            spec = json.dumps(json.loads(proto.spec))
            assert not RAW_HTML.search(spec), f"{page}: raw markup in a figure"
            shown.add(plain(json.loads(json.dumps(proto.spec)).replace("&lt;", "<")
                            .replace("&gt;", ">").replace("&amp;", "&")))
            continue
        if element.type in LITERAL or kind in LITERAL:
            shown.update(v for _, v in _strings(data))
            continue
        for key, text in _strings(data):
            if key in MARKDOWN_KEYS:
                assert not LIVE_MARKDOWN.search(text), f"{page}: live markup in {text!r}"
                shown.add(plain(text))
    for frame in at.dataframe:
        shown.update(str(v) for v in frame.value.astype(str).to_numpy().ravel())
    return shown


def test_stored_markup_shows_as_typed_on_every_page(stored):
    # The vp has every page; Pia sees her own tasks and goals, which no one else lists.
    texts, detail = stored
    seen: dict[str, list[str]] = {field: [] for field in FIELDS}
    for role in ("vp", "partnership_manager"):
        at = login_as(role)
        for page in pages_for(role):
            at.switch_page(page.path)
            at.query_params.clear()  # as a browser's page switch does: no ?id= carried over
            if page.path in detail:
                at.query_params["id"] = detail[page.path]
            at.run()
            shown = "\n".join(_check_page(at, f"{role} {page.path}"))
            for field, text in texts.items():
                if text in shown:
                    seen[field].append(page.path)
    missing = {field for field, pages in seen.items() if not pages}
    assert not missing, f"never shown whole, as typed: {sorted(missing)}"
