"""Partner directory: every partner the viewer may see, with health, owner and activity."""

import streamlit as st

from isv import ui
from isv.services import partners
from isv.ui.labels import DOMAINS, HEALTH, health_label
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
    st.dataframe(directory_frame(rows), hide_index=True, column_config=DIRECTORY_COLUMNS)
    scope = "" if viewer.sees_everything else " (you see the partners you own)"
    st.caption(f"{len(rows)} partner{'s' if len(rows) != 1 else ''}{scope}")
