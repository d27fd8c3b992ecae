"""Opportunity detail: every field editable, the stage history, the audit trail, the commission."""

import streamlit as st

from isv import ui
from isv.services.deal_view import deal_view
from isv.ui import deal, pipeline

viewer = ui.page_viewer(__file__)

st.title("Opportunity detail")
ui.show_flash()
opportunity_id = deal.chosen_id()
view = ui.run(deal_view, opportunity_id=opportunity_id) if opportunity_id else None
if view is None:
    if opportunity_id:
        deal.forget_choice()
    deal.picker()
    st.stop()

ui.name_tab(view.fields["customer_name"])
if st.button("Choose another deal", key="deal_choose_another", icon=":material/search:"):
    deal.forget_choice()
    st.rerun()
deal.summary(view)
deal.edit_form(view, pipeline.choices(viewer), viewer)
deal.commission(view)
deal.history(view)
deal.trail(view)
