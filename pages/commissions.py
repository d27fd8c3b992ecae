"""Commission calculator: what a partner earns on a deal, and the same deal under each structure."""

import streamlit as st

from isv import ui
from isv.services import commissions
from isv.ui import calculator, pipeline

viewer = ui.page_viewer(__file__)

st.title("Commission calculator")
options = pipeline.choices(viewer)
if not options.partners:
    st.info("There are no partners you may see yet.")
    st.stop()
inputs = calculator.form(options)
if inputs is not None:
    quote = ui.run(commissions.calculate, errors=inputs.errors, **inputs.arguments)
    if quote is not None:
        calculator.show(quote)
