"""Partner detail: profile, owner, contacts, health, touches, commission structures and deals."""

import streamlit as st

from isv import ui
from isv.ui import partner, pipeline

viewer = ui.page_viewer(__file__)

st.title("Partner detail")
ui.show_flash()
options = pipeline.choices(viewer)
chosen = partner.chosen()

if chosen == partner.NEW:
    if not partner.may_add_partners(viewer):
        st.error("Your role may not add partners.")
        partner.picker(options, viewer)
        st.stop()
    st.subheader("New partner", anchor=False)
    partner.profile_form(options, viewer, None)
    if st.button("Cancel", key="partner_new_cancel"):
        partner.forget()
        st.rerun()
    st.stop()

view = ui.run(partner.load, partner_id=chosen) if chosen else None
if view is None:
    if chosen:
        partner.forget()
    partner.picker(options, viewer)
    st.stop()

if st.button("Choose another partner", key="partner_choose_another", icon=":material/search:"):
    partner.forget()
    st.rerun()
partner.profile(view)
if view.can_edit:
    with st.expander("Edit profile", icon=":material/edit:"):
        partner.profile_form(options, viewer, view)
touches_tab, structures_tab, deals_tab = st.tabs(
    ["Touch log", "Commission structures", f"Opportunities ({view.deal_total:,})"])
with touches_tab:
    partner.touches(view)
with structures_tab:
    partner.structures(view)
with deals_tab:
    partner.deals(view)
if view.can_edit:
    partner.delete_section(view)
