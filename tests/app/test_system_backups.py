"""The System page lists the scheduled backups kept in ISV_BACKUP_DIR, newest first."""

from __future__ import annotations

from isv import config
from isv.services import backups
from tests.app.conftest import plain


def test_the_system_page_lists_the_kept_backups_newest_first(login, tmp_path, monkeypatch):
    folder = tmp_path / "backups"
    folder.mkdir()
    for stamp in ("20261130T021500Z", "20261201T021500Z"):
        (folder / f"{backups.PREFIX}{stamp}.zip").write_bytes(b"x" * 3000)
    (folder / f"{backups.PREFIX}20261202T021500Z.zip.partial").write_bytes(b"unfinished")
    monkeypatch.setenv("ISV_BACKUP_DIR", str(folder))
    config.get_settings.cache_clear()
    at = login("admin", "pages/system.py")
    assert not at.exception, at.exception
    [table] = [frame.value for frame in at.dataframe if "File" in frame.value.columns]
    assert list(table["File"]) == ["isv-backup-20261201T021500Z.zip",
                                   "isv-backup-20261130T021500Z.zip"]
    assert set(table["Kind"]) == {"portable bundle"}
    assert any("2 checked backups" in caption.value for caption in at.caption)


def test_with_no_backup_yet_the_system_page_says_where_they_will_be(login, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("ISV_BACKUP_DIR", str(tmp_path / "none-yet"))
    config.get_settings.cache_clear()
    at = login("vp", "pages/system.py")
    assert not at.exception, at.exception
    assert any(plain(info.value).startswith(f"No backup in {tmp_path / 'none-yet'} yet")
               for info in at.info)
