"""Deal registrations: what partners registered through their links, with conflicts, and the
owner's (or a vp's or sales manager's) approval or rejection."""

import streamlit as st

from isv import ui
from isv.ui import pipeline, registration

viewer = ui.page_viewer(__file__)

st.title("Deal registrations")
ui.show_flash()
st.caption("Partners register deals through the links made on their partner page. A "
           "registration naming a customer already in an open deal or in another live "
           "registration is flagged. Approving creates the deal; an approved registration "
           "protects its partner for the days set on the Settings page.")
registration.listing(registration.filters(pipeline.choices(viewer)))
