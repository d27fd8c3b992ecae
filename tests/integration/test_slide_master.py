"""The exec pack's slide master: uploaded on the Settings page, checked, kept in the database
with the settings (every replica and a backup see it), audited, and removable."""

from __future__ import annotations

import io
import zipfile

import pytest
from pptx import Presentation
from sqlalchemy import func, select

from isv.errors import Forbidden, ValidationError
from isv.models import AuditEntry
from isv.rules import slides
from isv.services import settings
from tests.factories import make_user, viewer_of


def a_template(*, layouts: bool = True) -> bytes:
    prs = Presentation()
    if not layouts:  # a master whose layouts have no title placeholder left
        for layout in prs.slide_layouts:
            for placeholder in list(layout.placeholders):
                placeholder._element.getparent().remove(placeholder._element)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


@pytest.fixture
def vp(session):
    return viewer_of(make_user(session, role="vp", first_name="Vera", last_name="Vale"))


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def test_a_vp_uploads_a_slide_master_and_the_pack_reads_it_back(session, vp):
    data = a_template()

    saved = settings.save_slide_master(session=session, viewer=vp, file_name="Acme.pptx",
                                       data=data)

    assert (saved.file_name, saved.size, saved.uploaded_by) == ("Acme.pptx", len(data),
                                                                "Vera Vale")
    assert (saved.cover_layout, saved.content_layout) == ("Title Slide", "Title Only")
    assert settings.slide_master_file(session=session) == data
    assert settings.slide_master_info(session=session, viewer=vp) == saved
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "settings")).one()
    assert entry.new_values == {"slide_master": f"Acme.pptx ({len(data):,} bytes)"}


def test_the_typed_settings_are_read_without_the_slide_master(session, vp):
    settings.save_slide_master(session=session, viewer=vp, file_name="Acme.pptx",
                               data=a_template())

    assert settings.current_settings(session).currency_symbol == "$"  # the row is skipped


def test_uploading_the_same_file_again_writes_nothing(session, vp):
    data = a_template()
    settings.save_slide_master(session=session, viewer=vp, file_name="Acme.pptx", data=data)
    before = audit_count(session)

    settings.save_slide_master(session=session, viewer=vp, file_name="Acme.pptx", data=data)

    assert audit_count(session) == before


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("deck.pptx", b"", "the file is empty"),
    ("deck.pdf", b"%PDF-1.7", "'deck.pdf' is not a .pptx file"),
    ("deck.pptx", b"not a zip at all", "is not a PowerPoint presentation (.pptx)"),
    ("deck.pptx", "zip", "is not a PowerPoint presentation (.pptx)"),
    ("deck.pptx", b"x" * (slides.MAX_BYTES + 1), "is 10.0 MB; the limit is 10 MB"),
    ("deck.pptx", "no titles", "has no slide layout with a title placeholder"),
])
def test_a_file_that_is_no_usable_pptx_is_refused_naming_the_field(session, vp, name, data,
                                                                     reason):
    if data == "zip":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("word/document.xml", "<w/>")
        data = out.getvalue()
    elif data == "no titles":
        data = a_template(layouts=False)
    before = audit_count(session)

    with pytest.raises(ValidationError) as refused:
        settings.save_slide_master(session=session, viewer=vp, file_name=name, data=data)

    assert refused.value.field == "slide_master"
    assert reason in refused.value.reason
    assert settings.slide_master_file(session=session) is None
    assert audit_count(session) == before


def test_a_zip_that_unpacks_to_too_much_is_refused_before_it_is_opened(session, vp):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ppt/presentation.xml", "<p/>")
        archive.writestr("ppt/media/huge.bin", b"\0" * (slides.MAX_UNPACKED + 1))

    with pytest.raises(ValidationError, match="unpacks to"):
        settings.save_slide_master(session=session, viewer=vp, file_name="bomb.pptx",
                                   data=out.getvalue())


def test_removing_the_slide_master_brings_back_the_default_look(session, vp):
    settings.save_slide_master(session=session, viewer=vp, file_name="Acme.pptx",
                               data=a_template())

    assert settings.remove_slide_master(session=session, viewer=vp)

    assert settings.slide_master_file(session=session) is None
    assert settings.slide_master_info(session=session, viewer=vp) is None
    assert not settings.remove_slide_master(session=session, viewer=vp)


@pytest.mark.parametrize("role", ["sales_manager", "partnership_manager"])
def test_only_vp_and_admin_may_change_the_slide_master(session, role):
    someone = viewer_of(make_user(session, role=role))

    with pytest.raises(Forbidden):
        settings.save_slide_master(session=session, viewer=someone, file_name="Acme.pptx",
                                   data=a_template())
    with pytest.raises(Forbidden):
        settings.remove_slide_master(session=session, viewer=someone)
