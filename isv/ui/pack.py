"""The exec review pack on the dashboard: one click builds it, then its two downloads."""

from __future__ import annotations

import streamlit as st

from isv import chart_images, pack
from isv.analytics.dashboard import DashboardData
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import settings
from isv.ui.kpi import SEEN_VERSION, explain_export_once
from isv.ui.widgets import escape_md

PACK = "isv_exec_pack"
TITLE = "Executive review"


def _template() -> bytes | None:
    with session_scope() as session:
        return settings.slide_master_file(session=session)


def exec_pack(viewer: Viewer, data: DashboardData, shown: list[pack.PackChart], *,
              described: tuple[str, ...], key: str) -> None:
    """One click builds the pack (PPTX and PDF) for what the page shows; then the downloads.

    The built pack is kept in the session for this period, these filters and this data
    version (a new slide master is a new data version), so reruns show its download buttons
    without building it again.
    """
    reason = chart_images.unavailable()
    content = pack.PackContent(
        title=TITLE, prepared_by=viewer.name or viewer.email, filters=described,
        kpis=data.kpis, previous=data.previous, charts=tuple(shown), slipped=data.slipped,
        team=data.team, closers=data.closers)
    stamp = (content.context, data.kpis.scope, st.session_state.get(SEEN_VERSION),
             tuple(c.title for c in shown))
    built = st.session_state.get(f"{PACK}_{key}")
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_pack"):
        clicked = st.button(
            "Build exec review pack", icon=":material/slideshow:", key=f"{key}_pack_build",
            disabled=reason is not None,
            help=reason or f"A PPTX and a PDF for this period and these filters: cover, key "
                           f"figures, the {len(shown)} charts below, slipped deals, team "
                           "performance and the gap to goal")
        explain_export_once(reason)
        slot = st.empty()  # the progress bar, then any error, beside the button
    if clicked:
        bar = slot.progress(0.0, text="Building the exec review pack…")
        try:
            built_pack = pack.build_pack(
                content, template=_template(),
                progress=lambda done, step: bar.progress(done, text=f"Rendering {step}…"))
        except Exception as exc:  # a browser crash must not take the dashboard with it
            slot.error(escape_md(f"The pack could not be built: {exc}"), icon=":material/error:")
            return
        built = (stamp, built_pack)
        st.session_state[f"{PACK}_{key}"] = built
        slot.empty()
    if built is None or built[0] != stamp:
        return
    done = built[1]
    name = f"exec review {data.kpis.period.label}"
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_pack_files"):
        st.download_button("Pack as PPTX", data=done.pptx,
                           file_name=chart_images.file_name(name, "pptx"), mime=pack.PPTX_MIME,
                           key=f"{key}_pack_pptx", on_click="ignore",
                           icon=":material/download:")
        st.download_button("Pack as PDF", data=done.pdf,
                           file_name=chart_images.file_name(name, "pdf"),
                           mime=chart_images.FORMATS["pdf"], key=f"{key}_pack_pdf",
                           on_click="ignore", icon=":material/download:")
        look = "on the uploaded slide master" if done.templated else "in the default look"
        st.caption(f"{done.slides} slides {look}")
