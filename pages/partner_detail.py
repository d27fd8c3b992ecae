"""Partner detail: profile, owner, contacts, health, touches, commission structures, deals
and deal registration links."""

import streamlit as st

from isv import ui
from isv.services.partner_view import partner_view
from isv.ui import partner, pipeline, registration

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

view = ui.run(partner_view, partner_id=chosen) if chosen else None
if view is None:
    if chosen:
        partner.forget()
    partner.picker(options, viewer)
    st.stop()

ui.name_tab(view.fields["name"])
if st.button("Choose another partner", key="partner_choose_another", icon=":material/search:"):
    partner.forget()
    st.rerun()
partner.profile(view)
with st.expander("Why this health score", icon=":material/monitor_heart:"):
    partner.health_parts(view)
if view.can_edit:
    with st.expander("Edit profile", icon=":material/edit:"):
        partner.profile_form(options, viewer, view)
tab_names = ["Touch log", "Commission structures", f"Opportunities ({view.deal_total:,})"]
if view.can_edit:
    tab_names.append("Deal registration")
touches_tab, structures_tab, deals_tab, *registration_tab = st.tabs(tab_names)
with touches_tab:
    partner.touches(view)
with structures_tab:
    partner.structures(view)
with deals_tab:
    partner.deals(view)
if registration_tab:
    with registration_tab[0]:
        registration.pending_note(view.id)
        registration.link_section(view.id, view.fields["name"])
if view.can_edit:
    partner.delete_section(view)
