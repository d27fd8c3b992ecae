"""DataFrames for display: service results in, labelled columns out (cells are never markup)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from isv import display
from isv.models import User
from isv.services.partners import DirectoryRow
from isv.ui.labels import health_label, role_label

# No fixed widths: the grid sizes each column to its content. All six columns fit at
# 1024 px with the sidebar open only because the headers are short and owners are shown
# as "First L." (full names are on the Users page).
DIRECTORY_COLUMNS = {
    "Partner": st.column_config.TextColumn("Partner"),
    "Domain": st.column_config.TextColumn("Domain"),
    "Health": st.column_config.TextColumn("Health", help="Relationship health"),
    "Owner": st.column_config.TextColumn("Owner", help="The partnership manager who owns "
                                                      "the partner"),
    "Last touch": st.column_config.TextColumn(
        "Last touch", help="Most recent call, meeting, email, QBR or event"),
    "Open deals": st.column_config.NumberColumn(
        "Deals", format=display.TABLE_COUNT_FORMAT, help="Open deals: lead, demo, PoC or proposal"),
}

USER_COLUMNS = {
    "Name": st.column_config.TextColumn("Name"),
    "Email": st.column_config.TextColumn("Email"),
    "Role": st.column_config.TextColumn("Role"),
    "Active": st.column_config.CheckboxColumn("Active", help="Inactive users cannot sign in"),
    "Last login": st.column_config.TextColumn("Last login"),
}


TABLE_MAX_ROWS = 15
_ROW_PX = 35  # st.dataframe's row height, and its header's


def table_height(rows: int) -> int | str:
    """A table as tall as its rows, so no fixed ten-row box sits above empty page.

    Up to TABLE_MAX_ROWS rows the table shows them all; a longer one scrolls inside a box
    of that many rows.
    """
    return "content" if rows <= TABLE_MAX_ROWS else _ROW_PX * (TABLE_MAX_ROWS + 1) + 3


def short_name(full_name: str) -> str:
    """'Jonas Lindqvist' -> 'Jonas L.': enough to tell a small team apart, and narrow."""
    first, _, rest = full_name.strip().partition(" ")
    return f"{first} {rest.strip()[0]}." if rest.strip() else first


def directory_frame(rows: Iterable[DirectoryRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [{
            "Partner": row.name,
            "Domain": row.domain,
            "Health": health_label(row.relationship_health),
            "Owner": short_name(row.owner_name) if row.owner_name else "unassigned",
            "Last touch": display.day(row.last_touch, none="never"),
            "Open deals": row.open_deals,
        } for row in rows],
        columns=list(DIRECTORY_COLUMNS),
    )


def users_frame(people: Iterable[User]) -> pd.DataFrame:
    return pd.DataFrame(
        [{
            "Name": user.full_name,
            "Email": user.email,
            "Role": role_label(user.role),
            "Active": bool(user.is_active),
            "Last login": display.moment(user.last_login_at, none="never"),
        } for user in people],
        columns=list(USER_COLUMNS),
    )
