"""DataFrames for display: service results in, labelled columns out (cells are never markup)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from isv.models import User
from isv.services.partners import DirectoryRow
from isv.ui.labels import day_label, health_label, moment_label, role_label

DIRECTORY_COLUMNS = {
    "Partner": st.column_config.TextColumn("Partner", width="medium"),
    "Domain": st.column_config.TextColumn("Domain", width="small"),
    "Health": st.column_config.TextColumn("Health", width="small",
                                          help="Relationship health"),
    "Owner": st.column_config.TextColumn("Owner", width="medium"),
    "Last touch": st.column_config.TextColumn("Last touch", width="small",
                                              help="Most recent call, meeting, email, QBR "
                                                   "or event"),
    "Open deals": st.column_config.NumberColumn("Open deals", width="small", format="%d"),
}

USER_COLUMNS = {
    "Name": st.column_config.TextColumn("Name", width="medium"),
    "Email": st.column_config.TextColumn("Email", width="medium"),
    "Role": st.column_config.TextColumn("Role", width="medium"),
    "Active": st.column_config.CheckboxColumn("Active", width="small"),
    "Last login": st.column_config.TextColumn("Last login", width="small"),
}


def directory_frame(rows: Iterable[DirectoryRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [{
            "Partner": row.name,
            "Domain": row.domain,
            "Health": health_label(row.relationship_health),
            "Owner": row.owner_name or "unassigned",
            "Last touch": day_label(row.last_touch),
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
            "Last login": moment_label(user.last_login_at),
        } for user in people],
        columns=list(USER_COLUMNS),
    )
