"""The charts' visual language and figure builders, checked on the figures' data and labels."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from isv import charts
from isv.analytics.frames import DOMAIN_COLUMNS, FUNNEL_COLUMNS, PARTNER_COLUMNS, REVENUE_COLUMNS
from isv.models import DOMAINS, OPEN_STAGES, STAGES

D = Decimal


def test_every_stage_and_domain_has_its_own_colour_from_the_colour_blind_safe_palette():
    palette = set(charts.OKABE_ITO.values())
    assert set(charts.STAGE_COLORS) == set(STAGES)
    assert set(charts.DOMAIN_COLORS) == set(DOMAINS)
    for colours in (charts.STAGE_COLORS, charts.DOMAIN_COLORS):
        assert set(colours.values()) <= palette
        assert len(set(colours.values())) == len(colours)


def test_stages_and_domains_also_differ_by_pattern_so_colour_is_never_the_only_signal():
    open_patterns = [charts.STAGE_PATTERNS[s] for s in OPEN_STAGES]
    assert len(set(open_patterns)) == len(OPEN_STAGES)
    assert len(set(charts.DOMAIN_PATTERNS.values())) == len(DOMAINS)


def test_text_on_a_bar_is_black_on_light_colours_and_white_on_dark_ones():
    assert charts.text_color(charts.OKABE_ITO["yellow"]) == "#000000"
    assert charts.text_color(charts.OKABE_ITO["blue"]) == "#FFFFFF"


def funnel() -> pd.DataFrame:
    return pd.DataFrame([["Lead", 4, D("1000"), None], ["Demo", 3, D("600"), D("0.75")],
                         ["PoC", 2, D("300"), D("0.6667")], ["Proposal", 1, D("200"), D("0.5")],
                         ["Closed won", 1, D("200"), D("1")]], columns=FUNNEL_COLUMNS)


def test_the_funnel_labels_each_stage_with_deals_value_and_conversion():
    fig = charts.funnel_figure(funnel(), title="Funnel")
    trace = fig.data[0]
    assert list(trace.y) == ["Lead", "Demo", "PoC", "Proposal", "Closed won"]
    assert list(trace.x) == [4, 3, 2, 1, 1]
    assert trace.text[0] == "4 · $1.0k"
    assert trace.text[2] == "2 · $300 · 66.7\u00a0% of Demo"
    assert list(trace.marker.color) == [charts.STAGE_COLORS[s] for s in
                                        ("lead", "demo", "poc", "proposal", "closed_won")]


def test_an_empty_funnel_says_so_instead_of_drawing_nothing():
    empty = funnel().assign(Deals=0)
    fig = charts.funnel_figure(empty)
    assert not fig.data
    assert fig.layout.annotations[0].text == "No deals created in this period"


def revenue() -> pd.DataFrame:
    return pd.DataFrame([
        ["Q2 2026", "Apr 1 – Jun 30, 2026", "past", D("1500000"), 10, D("0"), 0],
        ["Q3 2026", "Jul 1 – Sep 30, 2026", "current", D("400000"), 3, D("250000.50"), 7],
        ["Q4 2026", "Oct 1 – Dec 31, 2026", "coming", D("0"), 0, D("900000"), 12],
    ], columns=REVENUE_COLUMNS)


def test_revenue_by_quarter_stacks_won_and_a_patterned_forecast_with_totals():
    fig = charts.revenue_by_quarter_figure(revenue())
    won, forecast = fig.data
    assert (won.name, forecast.name) == ("Won", "Weighted forecast")
    assert list(won.x) == ["Q2 2026", "Q3 2026 (now)", "Q4 2026"]
    assert list(won.text) == ["$1.5M", "$400.0k", ""]
    assert forecast.marker.pattern.shape == charts.FORECAST_PATTERN
    assert [a.text for a in fig.layout.annotations] == ["<b>$1.5M</b>", "<b>$650.0k</b>",
                                                        "<b>$900.0k</b>"]
    assert fig.layout.barmode == "stack"


def test_pipeline_by_domain_puts_the_biggest_domain_on_top_and_patterns_each_stage():
    frame = pd.DataFrame([
        ["FinOps", "Lead", 2, D("100"), D("10")], ["FinOps", "Demo", 1, D("50"), D("12.5")],
        ["Security", "Proposal", 3, D("900"), D("675")],
    ], columns=DOMAIN_COLUMNS)
    fig = charts.pipeline_by_domain_figure(frame)
    assert [t.name for t in fig.data] == ["Lead", "Demo", "PoC", "Proposal"]
    assert list(fig.data[0].y) == ["FinOps", "Security"]  # plotly draws the last on top
    assert [t.marker.pattern.shape for t in fig.data] == [charts.STAGE_PATTERNS[s]
                                                          for s in OPEN_STAGES]
    assert [a.text for a in fig.layout.annotations] == ["$150", "$900"]


def test_top_partners_are_labelled_with_amount_and_domain_biggest_on_top():
    frame = pd.DataFrame([
        ["Trustlayer", "Security", D("250000"), 2, D("10"), 1],
        ["Ledgerline", "FinOps", D("125000"), 1, D("0"), 0],
        ["Quiet", "FinOps", D("0"), 0, D("99"), 3],
    ], columns=PARTNER_COLUMNS)
    fig = charts.top_partners_figure(frame)
    assert list(fig.layout.yaxis.categoryarray) == ["Ledgerline", "Trustlayer"]
    labels = {t.name: list(t.text) for t in fig.data}
    assert labels == {"FinOps": ["$125.0k · FinOps"], "Security": ["$250.0k · Security"]}
    assert {t.name: t.marker.color for t in fig.data} == {
        "FinOps": charts.DOMAIN_COLORS["FinOps"], "Security": charts.DOMAIN_COLORS["Security"]}


def test_a_figure_carries_its_title_and_what_it_covers_inside_the_image():
    context = charts.context_line("Q3 2026 (Jul 1 – Sep 30, 2026)", "Domain FinOps", None,
                                  "as of 2026-08-20")
    fig = charts.revenue_by_quarter_figure(revenue(), title="Revenue", context=context)
    assert fig.layout.title.text == "Revenue"
    assert fig.layout.title.subtitle.text == (
        "Q3 2026 (Jul 1 – Sep 30, 2026) · Domain FinOps · as of 2026-08-20")


def test_the_export_version_is_1600_by_900_with_fonts_scaled_up_and_the_screen_one_untouched():
    fig = charts.funnel_figure(funnel(), title="Funnel")
    slide = charts.for_export(fig, context="Q3 2026 · as of 2026-08-20")
    assert (slide.layout.width, slide.layout.height) == (1600, 900)
    assert slide.layout.font.size > fig.layout.font.size >= 14
    assert slide.layout.title.subtitle.text == "Q3 2026 · as of 2026-08-20"
    assert fig.layout.width is None and fig.layout.title.subtitle.text == ""


def test_names_with_markup_are_shown_as_typed_not_as_formatting():
    frame = pd.DataFrame([["<b>Bold</b> & Co", "FinOps", D("5000"), 1, D("0"), 0]],
                         columns=PARTNER_COLUMNS)
    fig = charts.top_partners_figure(frame, context=charts.context_line("Partner <i>x</i>"))
    assert list(fig.data[0].y) == ["&lt;b&gt;Bold&lt;/b&gt; &amp; Co"]
    assert fig.layout.title.subtitle.text == "Partner &lt;i&gt;x&lt;/i&gt;"


def test_money_axes_write_billions_with_b_like_the_cards_never_the_si_g():
    fig = charts.revenue_by_quarter_figure(revenue())
    axis = fig.layout.yaxis
    assert axis.tickprefix == "$"
    assert axis.exponentformat == "B"  # plotly's SI letters would write a billion as 1G
    assert axis.tickformat is None


def test_style_gives_the_house_template_without_validating_a_template_again(monkeypatch):
    """Assigning a template by name deep-copies and validates it (most of a page's figure
    building); every figure still carries plotly_white, whatever the process default (importing
    streamlit makes it its own theme)."""
    from _plotly_utils.basevalidators import BaseTemplateValidator

    monkeypatch.setattr(pio.templates, "default", "plotly")
    built = []
    original = BaseTemplateValidator.validate_coerce

    def counting(self, *args, **kwargs):
        built.append(1)
        return original(self, *args, **kwargs)

    fig = go.Figure(go.Bar(x=["a"], y=[1]))
    monkeypatch.setattr(BaseTemplateValidator, "validate_coerce", counting)
    charts.style(fig, title="Won", context="Q3 2026")
    assert built == []
    monkeypatch.undo()
    assert fig.layout.template == pio.templates["plotly_white"]
    assert fig.to_dict() == charts.style(go.Figure(go.Bar(x=["a"], y=[1])).update_layout(
        template="plotly_white"), title="Won", context="Q3 2026").to_dict()


def test_plotly_parses_each_property_path_once_with_the_same_result():
    import plotly.basedatatypes as bdt

    parse = bdt._str_to_dict_path_full
    for path in ("xaxis.gridcolor", "marker_pattern_shape", "error_x.width", "a[1].b_c_",
                 "_underscore__twice_", "layout.annotations[0].font.size", ""):
        keys, positions = parse.__wrapped__(path)
        assert parse(path) == (keys, tuple(positions))
    before = parse.cache_info().hits
    for _ in range(2):
        charts.style(go.Figure(go.Bar(x=["a"], y=[1])), title="Won", context="Q3 2026")
    assert parse.cache_info().hits > before


def test_the_same_numbers_give_the_figure_already_built_and_new_numbers_a_new_one(monkeypatch):
    built = []
    real = charts.funnel_figure.__wrapped__  # the builder itself, without the memo
    monkeypatch.setattr(charts, "_FIGURES", type(charts._FIGURES)())

    def counting(frame, **options):
        built.append(options)
        return real(frame, **options)

    remembered = charts.remembered(counting)
    first = remembered(funnel(), title="Funnel")
    again = remembered(funnel(), title="Funnel")
    assert again is first and len(built) == 1

    retitled = remembered(funnel(), title="Deals by stage")
    assert retitled.layout.title.text == "Deals by stage" and len(built) == 2

    more = funnel()
    more.loc[0, "Deals"] = 5
    changed = remembered(more, title="Funnel")
    assert changed is not first and changed.data[0].x[0] == 5 and len(built) == 3
    assert first.data[0].x[0] == 4


def test_the_kept_figures_are_bounded_dropping_the_least_recently_used(monkeypatch):
    monkeypatch.setattr(charts, "_FIGURES", type(charts._FIGURES)())
    monkeypatch.setattr(charts, "FIGURES_KEPT", 2)
    first = charts.funnel_figure(funnel(), title="One")
    charts.funnel_figure(funnel(), title="Two")
    assert charts.funnel_figure(funnel(), title="One") is first  # now the most recent
    charts.funnel_figure(funnel(), title="Three")  # drops "Two"
    assert len(charts._FIGURES) == 2
    assert charts.funnel_figure(funnel(), title="One") is first


def test_a_built_figure_is_turned_into_a_dict_once_and_an_export_leaves_that_dict_alone():
    fig = charts.funnel_figure(funnel(), title="Funnel, once")
    spec = fig.to_dict()
    assert fig.to_dict() is spec  # what st.plotly_chart asks for on every run
    charts.for_slide(fig)
    assert fig.to_dict() is spec and spec["layout"]["title"]["text"] == "Funnel, once"
    assert "width" not in spec["layout"]
