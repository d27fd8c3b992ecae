"""Partner directory: every partner the viewer may see, with health, owner and activity."""

import streamlit as st

from isv import display, ui
from isv.services import partners
from isv.ui.labels import DOMAINS, HEALTH, health_label
from isv.ui.partner import may_add_partners
from isv.ui.tables import DIRECTORY_COLUMNS, directory_frame

viewer = ui.page_viewer(__file__)

st.title("Partners")
search_col, domain_col, health_col = st.columns([2, 1, 1])
search = search_col.text_input("Search", key="partners_search",
                               placeholder="Partner name, contact or notes")
domain = domain_col.selectbox("Domain", [None, *DOMAINS], key="partners_domain",
                              format_func=lambda d: d or "All")
health = health_col.selectbox("Health", [None, *HEALTH], key="partners_health",
                              format_func=health_label)

rows = ui.run(partners.list_directory, search=search, domain=domain, health=health)
if rows is not None:
    table = st.dataframe(directory_frame(rows), hide_index=True, column_config=DIRECTORY_COLUMNS,
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
