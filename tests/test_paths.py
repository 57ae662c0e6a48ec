"""Where the shared real data and the cache are looked up."""

from pathlib import Path

from flag3d.paths import ENV_CACHE, ENV_SHARED, cache_dir, shared_data_dir


def test_env_var_wins_and_missing_folder_gives_none(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_SHARED, str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv(ENV_SHARED, str(tmp_path / "absent"))
    assert shared_data_dir() is None


def test_found_above_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_SHARED, raising=False)
    data = tmp_path / "shared" / "data"
    data.mkdir(parents=True)
    work = tmp_path / "project" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert shared_data_dir() == data


def test_cache_dir_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "c"))
    assert cache_dir() == Path(tmp_path / "c") and (tmp_path / "c").is_dir()
