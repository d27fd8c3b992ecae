"""DataFrames for display: service results in, labelled columns out (cells are never markup)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

import pandas as pd
import streamlit as st

from isv import display
from isv.models import PersonalAccessToken, User
from isv.services import personal_tokens
from isv.services.health import PartnerHealth
from isv.services.partners import DirectoryRow
from isv.ui.labels import health_label, role_label, tier_label

# The grid sizes each column to its content (but Why). The columns fit at
# 1024 px with the sidebar open only because the headers are short and owners are shown
# as "First L." (full names are on the Users page).
DIRECTORY_COLUMNS = {
    "Partner": st.column_config.TextColumn("Partner"),
    "Domain": st.column_config.TextColumn("Domain"),
    "Tier": st.column_config.TextColumn(
        "Tier", help="The partner's program tier; each quarter's tier review on the partner "
                     "analytics page suggests moves"),
    "Health": st.column_config.TextColumn(
        "Health", help="The health score's label, or a label set by hand (marked) while its "
                       "override lasts"),
    "Score": st.column_config.NumberColumn(
        "Score", format="%d",
        help="Health score, 0 to 100: a base, plus touch recency against the cadence, new "
             "pipeline against the previous quarters' pace and win rate against the "
             "program's, less stalled and slipped deals. Each partner's parts are in the "
             "next column and on its page."),
    # Bounded: the parts run long, and the other columns must still fit a tablet's width.
    "Why": st.column_config.TextColumn(
        "Why", width="medium", help="The score's parts: points and what earned them"),
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

TOKEN_COLUMNS = {
    "Name": st.column_config.TextColumn("Name"),
    "Scope": st.column_config.TextColumn("Scope"),
    "Created": st.column_config.TextColumn("Created"),
    "Expires": st.column_config.TextColumn("Expires"),
    "Last used": st.column_config.TextColumn("Last used"),
    "Status": st.column_config.TextColumn("Status"),
}
TOKEN_SCOPE_LABELS = {personal_tokens.READ: "Read only", personal_tokens.WRITE: "Read and write"}
TOKEN_STATUS_LABELS = {"active": "Active", "expired": "Expired", "revoked": "Revoked"}


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


def shown_health(row: DirectoryRow, score: PartnerHealth | None) -> str:
    """The label a partner shows: the score's, or the hand-set one while its override lasts."""
    if score is None:
        return health_label(row.relationship_health)
    return health_label(score.health) + (", by hand" if score.overridden else "")


def directory_frame(rows: Iterable[DirectoryRow],
                    scores: Mapping[uuid.UUID, PartnerHealth]) -> pd.DataFrame:
    """The directory's rows; a partner without a score (none computed) shows empty cells."""
    return pd.DataFrame(
        [{
            "Partner": row.name,
            "Domain": row.domain,
            "Tier": tier_label(row.tier),
            "Health": shown_health(row, scores.get(row.id)),
            "Score": scores[row.id].score if row.id in scores else None,
            "Why": scores[row.id].summary() if row.id in scores else "",
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


def tokens_frame(tokens: Iterable[PersonalAccessToken]) -> pd.DataFrame:
    return pd.DataFrame(
        [{
            "Name": token.name,
            "Scope": TOKEN_SCOPE_LABELS[token.scope],
            "Created": display.moment(token.created_at),
            "Expires": display.moment(token.expires_at),
            "Last used": display.moment(token.last_used_at, none="never"),
            "Status": TOKEN_STATUS_LABELS[personal_tokens.status(token)],
        } for token in tokens],
        columns=list(TOKEN_COLUMNS),
    )
