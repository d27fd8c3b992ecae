"""The alert bell in the sidebar, the alerts page's pieces, and the System page's tables."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd
import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.models import ALERT_TYPES, PRIORITIES
from isv.services import alerts, backups, jobs
from isv.services.settings import current_settings
from isv.types import utcnow
from isv.ui import nav, state
from isv.ui.widgets import escape_md, flash, reset, run

ALERTS_PAGE = "pages/alerts.py"
PAGE_SIZE = 25
PICK_PREFIX = "alerts_pick_"

TYPE_LABELS = {
    "opportunity_due": "Deal closing",
    "relationship_maintenance": "Partner relationship",
    "goal_milestone": "Goal milestone",
    "task_overdue": "Task overdue",
    "deal_registration": "Deal registration",
}
READ_CHOICES = {"unread": "Unread", "read": "Read", "all": "All"}
# Where each kind of alert leads: the page, the words on the link.
ENTITY_LINKS = {
    "opportunity": ("pages/opportunity_detail.py", "Open the deal"),
    "partner": ("pages/partner_detail.py", "Open the partner"),
    "task": ("pages/tasks.py", "Open your tasks"),
    "goal": ("pages/goals.py", "Open your goals"),
    "registration": ("pages/registrations.py", "Open the registration"),
}


def type_label(alert_type: str | None) -> str:
    return TYPE_LABELS.get(alert_type, alert_type) if alert_type else "All"


def priority_label(priority: str | None) -> str:
    """The filter's choice: a level as everywhere else (isv.display), or no level: All."""
    return display.priority(priority) if priority else "All"


def _page(path: str, viewer: Viewer) -> st.Page | None:
    """The registered page at `path` if the viewer's role may open it, else None.

    An st.Page built like nav.navigation builds it links correctly even from the sidebar,
    which is drawn before st.navigation runs.
    """
    spec = next((p for p in nav.PAGES if p.path == path), None)
    if spec is None or viewer.role not in spec.roles:
        return None
    return st.Page(spec.file, title=spec.title, icon=spec.icon)


# --- the bell --------------------------------------------------------------------------

def bell(viewer: Viewer) -> None:
    """The viewer's unread count in the sidebar; a click opens the alerts page.

    Drawn with the page, so it is as fresh as the page: the frame's poll redraws both when
    the data changed (a new alert is a change). Counted once per data version.
    """
    page = _page(ALERTS_PAGE, viewer)
    if page is None:
        return
    unread = _unread(viewer)
    label = f"Alerts: {unread} unread" if unread else "Alerts: none unread"
    # A button rather than st.page_link: the sidebar is drawn before st.navigation
    # registers this run's pages, and a link is checked against them when drawn; a switch
    # happens on the click, when they are registered.
    if st.button(label, key="alerts_bell", use_container_width=True,
                 icon=":material/notifications_active:" if unread else
                 ":material/notifications:"):
        st.switch_page(page)


def _unread(viewer: Viewer) -> int:
    version = st.session_state.get(state.DATA_VERSION)
    counted = st.session_state.get(state.BELL_COUNT)
    if version is not None and version >= 0 and counted is not None \
            and counted[:2] == (viewer.id, version):
        return counted[2]
    with session_scope() as session:
        unread = alerts.unread_count(session=session, viewer=viewer)
    st.session_state[state.BELL_COUNT] = (viewer.id, version, unread)
    return unread


# --- the alerts page -------------------------------------------------------------------

def filters() -> dict:
    """The filter row: type, priority and read state; returns list_alerts arguments."""
    type_col, priority_col, read_col = st.columns(3)
    alert_type = type_col.selectbox("Type", [None, *ALERT_TYPES], key="alerts_type",
                                    format_func=type_label)
    priority = priority_col.selectbox("Priority", [None, *reversed(PRIORITIES)],
                                      key="alerts_priority", format_func=priority_label)
    shown = read_col.selectbox("Show", list(READ_CHOICES), key="alerts_read",
                               format_func=READ_CHOICES.get)
    read = {"unread": False, "read": True}.get(shown)
    return {"alert_type": alert_type, "priority": priority, "read": read}


def _picked(rows: Iterable[alerts.AlertRow]) -> list[uuid.UUID]:
    return [row.id for row in rows if st.session_state.get(f"{PICK_PREFIX}{row.id}")]


def _done(message: str, rows: Iterable[alerts.AlertRow]) -> None:
    reset(*(f"{PICK_PREFIX}{row.id}" for row in rows))
    flash(message)
    st.rerun(scope="app")  # the whole page, so the bell in the sidebar counts again


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def live_inbox(viewer: Viewer, chosen: dict) -> None:
    """The viewer's alerts under the filters; redrawn with the bell when the data changed."""
    unread = run(alerts.unread_count)
    rows = run(alerts.list_alerts, **chosen)
    if rows is None or unread is None:
        return
    st.caption(f"{len(rows)} shown · {unread} unread in all. The alert rules run every 15 "
               "minutes; each condition raises one alert.")
    inbox(viewer, rows, unread=unread)


def inbox(viewer: Viewer, rows: list[alerts.AlertRow], *, unread: int) -> None:
    """The viewer's alerts with their actions: mark read, delete, one, a selection or all."""
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    number = 1
    if pages > 1:
        number = st.columns([1, 2])[0].selectbox(
            "Page", range(1, pages + 1), key="alerts_page",
            format_func=lambda n: f"{n} of {pages} ({PAGE_SIZE} alerts a page)")
    shown = rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    picked = _picked(shown)

    all_col, read_col, delete_col = st.columns([1, 1.3, 1.1])
    if all_col.button("Mark all read", key="alerts_all_read", icon=":material/done_all:",
                      disabled=unread == 0, use_container_width=True):
        changed = run(alerts.mark_all_read)
        if changed is not None:
            _done(f"Marked {_plural(changed, 'alert')} read.", shown)
    if read_col.button(f"Mark selected read ({len(picked)})", key="alerts_picked_read",
                       icon=":material/done:", disabled=not picked, use_container_width=True):
        changed = run(alerts.mark_read, alert_ids=picked)
        if changed is not None:
            _done(f"Marked {_plural(changed, 'alert')} read.", shown)
    if delete_col.button(f"Delete selected ({len(picked)})", key="alerts_picked_delete",
                         icon=":material/delete:", disabled=not picked,
                         use_container_width=True):
        gone = run(alerts.delete_alerts, alert_ids=picked)
        if gone is not None:
            _done(f"Deleted {_plural(gone, 'alert')}.", shown)

    if not rows:
        st.info("No alerts match these filters.", icon=":material/notifications_off:")
        return
    for position, row in enumerate(shown, start=(number - 1) * PAGE_SIZE + 1):
        _alert(viewer, row, position)


def _alert(viewer: Viewer, row: alerts.AlertRow, position: int) -> None:
    with st.container(border=True):
        pick_col, text_col, action_col = st.columns([0.5, 7, 2.5], vertical_alignment="center")
        # The label is hidden, but a screen reader reads it: name the row, not just "Select".
        pick_col.checkbox(f"Select alert {position}", key=f"{PICK_PREFIX}{row.id}",
                          label_visibility="collapsed")
        status = "Read" if row.is_read else "**Unread**"
        text_col.markdown(
            f"**{escape_md(priority_label(row.priority))}** · "
            f"{escape_md(type_label(row.alert_type))} · "
            f"{escape_md(display.moment(row.created_at))} · {status}  \n"
            f"{escape_md(row.message)}")
        target = ENTITY_LINKS.get(row.entity_type)
        page = _page(target[0], viewer) if target else None
        if page is not None:
            with text_col:
                st.page_link(page, label=target[1], icon=":material/arrow_forward:",
                             query_params={"id": str(row.entity_id)})
        with action_col:
            if not row.is_read and st.button("Mark read", key=f"alerts_read_{row.id}",
                                             icon=":material/done:", use_container_width=True):
                if run(alerts.mark_read, alert_ids=[row.id]) is not None:
                    _done("Marked 1 alert read.", [row])
            if st.button("Delete", key=f"alerts_delete_{row.id}", icon=":material/delete:",
                         use_container_width=True):
                if run(alerts.delete_alerts, alert_ids=[row.id]) is not None:
                    _done("Deleted 1 alert.", [row])


# --- the System page: the scheduler that raises alerts and rolls tasks over -----------

JOB_LABELS = {"alerts": "Alert rules", "rollover": "Weekly task rollover",
              "purge_retention": "Retention purge (old audit entries and read alerts)",
              "backup": "Database backup (checked, kept ISV_BACKUP_KEEP_DAYS days)",
              "health_snapshot": "Weekly partner health snapshot (score history)"}
OUTCOME_LABELS = {"ok": "✔ ok", "failed": "✖ failed", "running": "… running"}
LEADER_STATES = {
    "running": "✔ running",
    "silent": "⚠ not heard from",
    "stopped": "■ stopped",
}

RUN_COLUMNS = {
    "Job": st.column_config.TextColumn("Job"),
    "Started": st.column_config.TextColumn("Started"),
    "Took": st.column_config.TextColumn("Took"),
    "Outcome": st.column_config.TextColumn("Outcome"),
    "Counts or error": st.column_config.TextColumn("Counts or error", width="large"),
    "Instance": st.column_config.TextColumn("Instance", help="host:process id:instance"),
}


def duration_label(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def counts_label(counts: dict | None) -> str:
    """A job's counts in words: 'week start 30 Nov 2026, rolled 1,204, flagged 0'."""
    if not counts:
        return display.NONE
    return ", ".join(f"{key.replace('_', ' ')} {_count_value(value)}"
                     for key, value in counts.items())


def _count_value(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return display.count(value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return display.day(date.fromisoformat(value))
    return str(value)


def job_cards(summaries: Iterable[jobs.JobSummary]) -> None:
    """One box per job: schedule, next due, last run with its outcome and counts in full."""
    zone = current_settings().time_zone
    summaries = list(summaries)
    # Two cards a row, as many rows as there are jobs: every job gets its card.
    columns = [column for _ in range(0, len(summaries), 2) for column in st.columns(2)]
    for job, column in zip(summaries, columns, strict=False):
        last = job.last_run
        with column.container(border=True):
            outcome = OUTCOME_LABELS.get(last.outcome, last.outcome) if last else "never run"
            st.markdown(f"**{escape_md(JOB_LABELS.get(job.job_name, job.job_name))}** — "
                        f"{escape_md(outcome)}")
            lines = [f"Runs {escape_md(display.schedule(job.schedule))} ({escape_md(zone)}); "
                     f"next {escape_md(display.moment(job.next_due))}"]
            if last is not None:
                lines.append(f"Last run {escape_md(display.moment(last.started_at))}, took "
                             f"{escape_md(duration_label(last.duration_ms))}")
                if last.outcome == "failed":
                    lines.append(f"Error: {escape_md(last.error or 'unknown')}")
                elif last.counts:
                    lines.append(f"Counts: {escape_md(counts_label(last.counts))}")
            success = display.moment(job.last_success_at, none="never")
            lines.append(f"Last success {escape_md(success)}")
            st.markdown("  \n".join(lines))


def backups_frame(files: Iterable[backups.BackupFile]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Taken": display.moment(f.created_at),
        "File": f.path.name,
        "Kind": "pg_dump archive" if f.kind == "pg_dump" else "portable bundle",
        "Size (KB)": display.count(max(1, f.size // 1024)),
    } for f in files], columns=["Taken", "File", "Kind", "Size (KB)"])


def runs_frame(runs: Iterable[jobs.RunRow]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Job": JOB_LABELS.get(r.job_name, r.job_name),
        "Started": display.moment(r.started_at),
        "Took": duration_label(r.duration_ms),
        "Outcome": OUTCOME_LABELS.get(r.outcome, r.outcome),
        "Counts or error": r.error if r.outcome == "failed" else counts_label(r.counts),
        "Instance": r.instance_id,
    } for r in runs], columns=list(RUN_COLUMNS))


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def leader_panel(leader: jobs.LeaderStatus | None) -> None:
    """Which scheduler instance holds the lock, and when it was last heard from."""
    if leader is None:
        st.warning("No scheduler has run on this database yet: start it with "
                   "`python -m scheduler` (`make run` starts it beside the app).",
                   icon=":material/schedule:")
        return
    now = utcnow()
    state_text = LEADER_STATES.get(leader.state, leader.state)
    lines = [
        f"**Leader:** {escape_md(leader.instance_id)} — {escape_md(state_text)}",
        f"Host {escape_md(leader.hostname)}, process {leader.pid}; leads since "
        f"{escape_md(display.moment(leader.acquired_at))}",
        f"Last heartbeat {escape_md(display.moment(leader.heartbeat_at))} "
        f"({escape_md(_ago(leader.heartbeat_at, now))})",
    ]
    if leader.state == "stopped":
        lines.append("It stopped cleanly; no scheduler is running jobs now.")
    elif leader.state == "silent":
        lines.append("No heartbeat lately: it may have died, or lost the database. A standby "
                     "instance, if any, takes over once the lock is free.")
    box = st.success if leader.state == "running" else st.warning
    box("  \n".join(lines), icon=":material/dns:")
    zone = current_settings().time_zone
    st.caption(f"Times in {escape_md(zone)}. The heartbeat is written every "
               f"{get_settings().scheduler_lock_poll_seconds} s by the instance that holds "
               "the leader lock; other instances stand by.")
