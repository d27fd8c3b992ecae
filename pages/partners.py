"""Partner directory: every partner the viewer may see, with health, owner and activity."""

import streamlit as st

from isv import display, ui
from isv.services import health as health_scores
from isv.services import partners
from isv.services.settings import current_settings
from isv.ui.labels import DOMAINS, HEALTH, health_label, tier_label
from isv.ui.partner import may_add_partners
from isv.ui.tables import DIRECTORY_COLUMNS, directory_frame

viewer = ui.page_viewer(__file__)

st.title("Partners")
search_col, domain_col, tier_col, health_col = st.columns([2, 1, 1, 1])
search = search_col.text_input("Search", key="partners_search",
                               placeholder="Partner name, contact or notes")
domain = domain_col.selectbox("Domain", [None, *DOMAINS], key="partners_domain",
                              format_func=lambda d: d or "All")
tier = tier_col.selectbox("Tier", [None, *(t.name for t in current_settings().partner_tiers),
                                   partners.NO_TIER], key="partners_tier",
                          format_func=lambda t: "All" if t is None
                          else tier_label(None if t == partners.NO_TIER else t))
# The label each partner shows (score or hand-set override): the service filters on it.
health = health_col.selectbox("Health", [None, *HEALTH], key="partners_health",
                              format_func=health_label)

rows = ui.run(partners.list_directory, search=search, domain=domain, tier=tier, health=health)
scores = ui.run(health_scores.partner_scores) if rows else []
if rows is not None:
    by_partner = {s.partner_id: s for s in scores or ()}
    table = st.dataframe(directory_frame(rows, by_partner), hide_index=True,
                         column_config=DIRECTORY_COLUMNS,
                         key="partners_table", on_select="rerun", selection_mode="single-row",
                         placeholder=display.NONE, height=ui.table_height(len(rows)))
    scope = "" if viewer.sees_everything else " (you see the partners you own)"
    st.caption(f"{len(rows)} partner{'s' if len(rows) != 1 else ''}{scope}"
               " · select a row to open the partner")
    picked = [rows[i] for i in table["selection"]["rows"] if i < len(rows)]
    if picked:
        st.switch_page("pages/partner_detail.py", query_params={"id": str(picked[0].id)})
    if may_add_partners(viewer):
        st.page_link("pages/partner_detail.py", label="New partner", icon=":material/add:",
                     query_params={"new": "1"})
