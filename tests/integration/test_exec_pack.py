"""The exec review pack, opened as a presenter would: PPTX with python-pptx, PDF with pypdf.

Built from the dashboard's own data (isv.analytics.dashboard) and charts, rendered through
the one warm kaleido server (Chromium): without it these tests skip, except in CI. The pack
is built once for the module (on SQLite: rendering does not depend on the database); the
gap-closer query it shows is checked on both databases.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pypdf import PdfReader
from sqlalchemy.orm import Session

from isv import chart_images, charts, display, pack
from isv.analytics import frames
from isv.analytics.breakdowns import PersonResult
from isv.analytics.dashboard import dashboard_data, gap_to_goal
from isv.analytics.periods import quarter_range
from isv.db import get_engine
from tests.conftest import fresh_migrated
from tests.factories import make_goal, make_opportunity, make_partner, make_user, viewer_of

IN_CI = os.environ.get("CI", "").lower() == "true"
MAX_PDF_BYTES = 1_500_000
THIS = quarter_range(2026, 3)
AS_OF = THIS.start + timedelta(days=45)
CHART_TITLES = ["Revenue by quarter: won, and weighted forecast from today",
                "Funnel: how far the deals created this period got",
                "Open pipeline by domain and stage", "Top partners by revenue won"]


def _missing(what: str) -> None:
    pytest.fail(what) if IN_CI else pytest.skip(what)


@pytest.fixture(scope="module")
def renders():
    if chart_images.unavailable():
        _missing(chart_images.NO_CHROMIUM)
    chart_images.render(charts.style(charts.go.Figure(), title="warm-up"), "svg")


def fill(session):
    """A quarter with won, lost, slipped and open deals, two people with revenue goals."""
    vp = make_user(session, role="vp", first_name="Vera", last_name="Vale")
    rep = make_user(session, role="sales_manager", first_name="Sid", last_name="Sato")
    ledger = make_partner(session, name="Ledgerline", domain="FinOps")
    shield = make_partner(session, name="Shieldworks", domain="Security")
    at = datetime.combine(THIS.start, time(9), tzinfo=UTC)
    for k in range(3):
        make_opportunity(session, ledger, stage="closed_won", deal_value=Decimal("40000.05"),
                         created_at=at, actual_close_date=THIS.start + timedelta(days=20 + k),
                         assigned_user_id=rep.id)
    make_opportunity(session, shield, stage="closed_lost", deal_value=Decimal("9000"),
                     created_at=at, actual_close_date=THIS.start + timedelta(days=30),
                     lost_reason="budget")
    for k in range(16):  # slipped: more than fit on one slide
        make_opportunity(session, shield if k % 2 else ledger, stage="poc",
                         probability=Decimal(50), deal_value=Decimal(5000 + 1000 * k),
                         customer_name=f"Slipped customer {k:02d}", created_at=at,
                         expected_close_date=AS_OF - timedelta(days=1 + k),
                         assigned_user_id=rep.id)
    make_opportunity(session, ledger, stage="proposal", probability=Decimal(90),
                     deal_value=Decimal("70000"), customer_name="Northwind Bank", created_at=at,
                     expected_close_date=THIS.end, assigned_user_id=vp.id)
    make_opportunity(session, shield, stage="demo", probability=Decimal(20),
                     deal_value=Decimal("30000"), customer_name="Contoso Retail", created_at=at,
                     expected_close_date=THIS.end - timedelta(days=5))
    make_goal(session, vp, year=2026, quarter=3, revenue_target=Decimal("150000"))
    make_goal(session, rep, year=2026, quarter=3, revenue_target=Decimal("100000"))
    viewer = viewer_of(vp)
    return viewer, dashboard_data(session=session, viewer=viewer, period=THIS, as_of=AS_OF)


@pytest.fixture(scope="module")
def program(request, tmp_path_factory):
    # Its own copy of the migrated template: a connection holds it open for the module.
    url = fresh_migrated(request, "sqlite", tmp_path_factory.mktemp("pack") / "isv.db")
    conn = get_engine(url).connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield fill(session)
    finally:
        session.close()
        trans.rollback()
        conn.close()


def content_of(viewer, data, filters=()) -> pack.PackContent:
    """The pack the dashboard builds: its four charts over its data."""
    now = data.kpis
    where = charts.context_line(f"{now.period.title} ({now.period.span})", *filters,
                                f"as of {now.as_of}")
    figures = [
        ("Revenue by quarter", charts.revenue_by_quarter_figure(
            frames.revenue_frame(data.revenue), title=CHART_TITLES[0], context=where)),
        ("Funnel", charts.funnel_figure(frames.funnel_frame(now), title=CHART_TITLES[1],
                                        context=where)),
        ("Open pipeline by domain", charts.pipeline_by_domain_figure(
            frames.domain_frame(data.domains), title=CHART_TITLES[2], context=where)),
        ("Top partners", charts.top_partners_figure(
            frames.partners_frame(data.partners), title=CHART_TITLES[3], context=where)),
    ]
    return pack.PackContent(
        title="Executive review", prepared_by=viewer.name, filters=tuple(filters), kpis=now,
        previous=data.previous, charts=tuple(pack.PackChart(t, f) for t, f in figures),
        slipped=data.slipped, team=data.team, closers=data.closers)


def cells(table) -> list[list[str]]:
    return [[table.cell(r, c).text for c in range(len(table.columns))]
            for r in range(len(table.rows))]


def table_on(slide):
    return next(shape for shape in slide.shapes if shape.has_table).table


def texts_on(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


@pytest.fixture(scope="module")
def built(renders, program):
    viewer, data = program
    content = content_of(viewer, data, filters=("Domain FinOps",))
    return content, pack.build_pack(content)


def test_the_slides_run_cover_key_figures_charts_slipped_team_gap(built):
    _, result = built
    deck = Presentation(io.BytesIO(result.pptx))

    assert [slide.shapes.title.text for slide in deck.slides] == [
        "Executive review", "Key figures", *CHART_TITLES, "Slipped deals",
        "Team performance", "Gap to goal"]
    assert result.slides == len(deck.slides) == 9


def test_the_cover_says_period_filters_as_of_and_who_prepared_it(built):
    _, result = built
    cover = Presentation(io.BytesIO(result.pptx)).slides[0]

    text = " | ".join(texts_on(cover))
    for part in ("Q3 2026 (1 Jul – 30 Sep 2026)", "Domain FinOps", "15 Aug 2026",
                 "Vera Vale"):
        assert part in text


def test_key_figures_are_a_native_table_in_the_number_language_with_changes(built):
    content, result = built
    kpis = content.kpis
    table = cells(table_on(Presentation(io.BytesIO(result.pptx)).slides[1]))

    assert table[0] == ["KPI", "Q3 2026", "Q2 2026", "Change"]
    rows = {row[0]: row[1:] for row in table[1:]}
    assert rows["Won this period"][0] == display.money_short(kpis.won_revenue) == "$120.0k"
    assert rows["Won this period"][2] == "+$120.0k"  # nothing won in Q2
    assert rows["Win rate"][0] == display.percent(kpis.win_rate) == "75.0\u00a0%"
    assert rows["Goal attainment"][0] == display.percent(kpis.goal_attainment)
    assert rows["Revenue target"][0] == "$250.0k"


def test_each_chart_slide_has_one_title_and_the_picture_carries_none(built):
    content, result = built
    deck = Presentation(io.BytesIO(result.pptx))

    for slide, chart in zip(list(deck.slides)[2:6], content.charts, strict=True):
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        assert slide.shapes.title.text == chart.slide_title
        # The image is drawn from the figure without its title: the slide's is the only one.
        assert charts.for_slide(chart.figure).layout.title.text == ""
        with Image.open(io.BytesIO(pictures[0].image.blob)) as image:
            assert image.width >= 1600


def test_slipped_deals_fit_one_slide_and_say_how_many_more(built):
    content, result = built
    slide = Presentation(io.BytesIO(result.pptx)).slides[6]
    table = cells(table_on(slide))

    shown = len(table) - 1
    assert 1 <= shown < 16
    assert table[1][0] == "Slipped customer 15"  # the largest first
    assert table[1][3] == "$20.0k"
    more = 16 - shown
    assert any(text.startswith(f"…and {more} more slipped deals worth")
               for text in texts_on(slide))
    for shape in slide.shapes:  # readable: nothing under 13 pt, nothing past the slide
        if shape.has_table:
            assert shape.top + shape.height <= Presentation(io.BytesIO(result.pptx)).slide_height
            fonts = {p.font.size.pt for row in shape.table.rows for cell in row.cells
                     for p in cell.text_frame.paragraphs}
            assert min(fonts) >= 13


def test_team_performance_is_a_native_table_of_each_person(built):
    content, result = built
    table = cells(table_on(Presentation(io.BytesIO(result.pptx)).slides[7]))

    assert table[0] == ["Person", "Pipeline", "Open deals", "Won", "Won deals", "Target",
                        "Attainment"]
    sid = next(row for row in table if row[0] == "Sid Sato")
    assert sid[3:] == ["$120.0k", "3", "$100.0k", "120.0\u00a0%"]


def test_the_gap_to_goal_slide_lists_the_dashboards_gap_closers(built):
    content, result = built
    kpis = content.kpis
    slide = Presentation(io.BytesIO(result.pptx)).slides[8]
    text = texts_on(slide)[1:]  # after the title

    assert gap_to_goal(kpis) == Decimal("129999.85")
    for label, value in (("Revenue target", "$250.0k"), ("Won", "$120.0k"),
                         ("Gap to goal", "$130.0k"), ("Coverage", display.times(kpis.coverage))):
        assert text[text.index(label) + 1] == value
    rows = cells(table_on(slide))[1:]
    assert [row[0] for row in rows] == [d.customer_name for d in content.closers]
    assert rows[0][:5] == ["Northwind Bank", "Ledgerline", "Proposal", "90\u00a0%", "$70.0k"]


def test_a_team_too_long_for_one_slide_continues_on_the_next(renders, program):
    viewer, data = program
    team = tuple(PersonResult(uuid.uuid4(), f"Person {k:02d}", None, "sales_manager",
                              Decimal(1000), 1, Decimal(k), 0, Decimal(100)) for k in range(22))
    content = replace(content_of(viewer, data), charts=(), team=team)

    result = pack.build_pack(content)

    deck = Presentation(io.BytesIO(result.pptx))
    slides = [s for s in deck.slides if s.shapes.title.text.startswith("Team performance")]
    assert [s.shapes.title.text for s in slides] == ["Team performance (1 of 2)",
                                                     "Team performance (2 of 2)"]
    listed = [row[0] for s in slides for row in cells(table_on(s))[1:]]
    assert listed == [p.name for p in team]


def test_the_gap_closers_are_the_likeliest_open_deals_until_the_gap_is_covered(session):
    _, data = fill(session)

    closers = data.closers
    # 90 % first, then the 50 % ones by expected close date: 70k + 20k + 19k + 18k + 17k.
    assert [d.customer_name for d in closers] == [
        "Northwind Bank", *(f"Slipped customer {k}" for k in (15, 14, 13, 12))]
    assert closers[-1].cumulative_value >= gap_to_goal(data.kpis)
    assert closers[-2].cumulative_value < gap_to_goal(data.kpis)


def test_the_pdf_holds_the_same_pages_small_and_readable(built, tmp_path):
    content, result = built
    reader = PdfReader(io.BytesIO(result.pdf))

    assert len(result.pdf) <= MAX_PDF_BYTES
    assert len(reader.pages) == result.slides
    for page, title in zip(reader.pages, result.titles, strict=True):
        assert title in page.extract_text()  # text as text, not pictures of text
    assert display.money_short(content.kpis.won_revenue) in reader.pages[1].extract_text()
    if shutil.which("pdftoppm") is None:
        _missing("pdftoppm is missing: apt-get install poppler-utils")
    (tmp_path / "pack.pdf").write_bytes(result.pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "24", str(tmp_path / "pack.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    rendered = sorted(tmp_path.glob("page-*.png"))
    assert len(rendered) == result.slides
    for path in rendered:
        with Image.open(path) as image:
            assert image.width > image.height
            assert len(set(image.convert("L").getdata())) > 2


def company_template() -> bytes:
    """A template as a company would make one: 16:9, a brand background, a slide left in."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = 12192000, 6858000
    fill = prs.slide_master.background.fill
    fill.solid()
    fill.fore_color.rgb = RGBColor(0xFF, 0xF4, 0xE0)
    for layout in prs.slide_layouts:
        if layout.name == "Title Only":
            layout._element.cSld.set("name", "Acme Title Only")
    prs.slides.add_slide(prs.slide_layouts[1]).shapes.title.text = "Delete me"
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def test_an_uploaded_slide_master_gives_the_slides_its_look(renders, program):
    viewer, data = program

    result = pack.build_pack(content_of(viewer, data), template=company_template())

    deck = Presentation(io.BytesIO(result.pptx))
    assert result.templated
    assert deck.slides[0].slide_layout.name == "Title Slide"
    assert {s.slide_layout.name for s in list(deck.slides)[1:]} == {"Acme Title Only"}
    assert deck.slide_master.background.fill.fore_color.rgb == RGBColor(0xFF, 0xF4, 0xE0)
    assert "Delete me" not in [s.shapes.title.text for s in deck.slides]
    assert [s.shapes.title.text for s in deck.slides][:2] == ["Executive review", "Key figures"]
    for slide in deck.slides:  # every table and picture inside the slide
        for shape in slide.shapes:
            assert shape.left + shape.width <= deck.slide_width
            assert shape.top + shape.height <= deck.slide_height


def test_a_partnership_managers_gap_closers_are_only_deals_that_count_for_their_goal(session):
    pm = make_user(session, role="partnership_manager")
    colleague = make_user(session, role="sales_manager")
    mine = make_partner(session, name="Own Partner", owner_id=pm.id)
    at = datetime.combine(THIS.start, time(9), tzinfo=UTC)
    make_opportunity(session, mine, stage="proposal", probability=Decimal(90),
                     deal_value=Decimal("50000"), customer_name="Assigned to a colleague",
                     created_at=at, expected_close_date=THIS.end,
                     assigned_user_id=colleague.id)
    make_opportunity(session, mine, stage="poc", probability=Decimal(50),
                     deal_value=Decimal("20000"), customer_name="Assigned to the PM",
                     created_at=at, expected_close_date=THIS.end, assigned_user_id=pm.id)
    make_goal(session, pm, year=2026, quarter=3, revenue_target=Decimal("100000"))

    data = dashboard_data(session=session, viewer=viewer_of(pm), period=THIS, as_of=AS_OF)

    # Both deals are the PM's to see, but only their own would count against their target.
    assert [d.customer_name for d in data.closers] == ["Assigned to the PM"]


MARKUP = '<b>Bold</b> <a href="javascript:alert(1)">x</a> <img src=x onerror=alert(2)> **Co** &amp;'
SHORT = "<b>B</b>[y](j:)"  # tables shorten longer names with an ellipsis


def test_names_holding_markup_show_as_typed_in_the_slides_and_the_pdf(renders, program):
    viewer, data = program
    content = content_of(viewer, data, filters=(f"Partner {MARKUP}",))
    content = replace(
        content, prepared_by=MARKUP,
        slipped=(replace(content.slipped[0], customer_name=SHORT, partner_name=SHORT),
                 *content.slipped[1:]),
        team=(replace(content.team[0], name=SHORT), *content.team[1:]))

    result = pack.build_pack(content)

    deck = Presentation(io.BytesIO(result.pptx))
    cover = " | ".join(texts_on(deck.slides[0]))
    assert MARKUP in cover and f"Partner {MARKUP}" in cover
    slipped = next(s for s in deck.slides if s.shapes.title.text.startswith("Slipped"))
    assert cells(table_on(slipped))[1][:2] == [SHORT, SHORT]
    team = next(s for s in deck.slides if s.shapes.title.text.startswith("Team"))
    assert SHORT in [row[0] for row in cells(table_on(team))]
    pdf = " ".join(" ".join(page.extract_text().split())
                   for page in PdfReader(io.BytesIO(result.pdf)).pages)
    assert pdf.count(MARKUP) >= 2 and pdf.count(SHORT) >= 3  # cover; slipped deals, team
