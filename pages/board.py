"""Pipeline board: a column per stage with totals over every matching deal, cards to move."""

import streamlit as st

from isv import ui
from isv.ui import board, pipeline

viewer = ui.page_viewer(__file__)

st.title("Pipeline board")
ui.show_flash()
options = pipeline.choices(viewer)
filter_errors = ui.FieldErrors()
filters = pipeline.filter_bar("board", options, filter_errors)
stages, per_column = board.view_options(filters)
columns = pipeline.read(board.load_board, errors=filter_errors, filters=filters,
                        stages=stages, per_column=per_column)
if columns is not None:
    st.caption("Totals count every matching deal; each column shows its largest deals first."
               + ("" if pipeline.can_write_deals(viewer) else
                  " Read only: your role may not move deals."))
    board.draw(columns, can_move=pipeline.can_write_deals(viewer), filters=filters)
