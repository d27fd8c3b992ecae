"""Opportunities: the pipeline as an editable grid, filtered and paged in the database."""

import streamlit as st

from isv import ui
from isv.ui import grid, pipeline

viewer = ui.page_viewer(__file__)

st.title("Opportunities")
ui.show_flash()
options = pipeline.choices(viewer)
filter_errors = ui.FieldErrors()
filters = pipeline.filter_bar("grid", options, filter_errors)
grid.opportunity_grid(viewer, filters, options, filter_errors,
                      editable=pipeline.can_write_deals(viewer))
