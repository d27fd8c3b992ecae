"""Shared Streamlit pieces: the login gate, navigation, the frame, and page helpers.

The only package in `isv` that imports streamlit. Pages use what is re-exported here.
"""

from isv.ui.frame import name_tab, page_viewer
from isv.ui.state import current_viewer
from isv.ui.tables import table_height
from isv.ui.widgets import FieldErrors, escape_md, flash, reset, run, show_flash

__all__ = ["FieldErrors", "current_viewer", "escape_md", "flash", "name_tab", "page_viewer",
           "reset", "run", "show_flash", "table_height"]
