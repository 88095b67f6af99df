from stockledger.config.settings import database_from_url


def test_postgres_url_selects_postgresql():
    db = database_from_url("postgres://postgres@127.0.0.1:5432/test")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("127.0.0.1", 5432, "test", "postgres")


def test_mariadb_url_uses_read_committed():
    db = database_from_url("mysql://root:@127.0.0.1:3306/test")
    assert db["ENGINE"] == "django.db.backends.mysql"
    assert db["OPTIONS"]["isolation_level"] == "read committed"


def test_sqlite_url_uses_immediate_transactions_and_wal():
    db = database_from_url("sqlite:////tmp/x.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_settings_read_database_url(monkeypatch):
    import importlib

    import stockledger.config.settings as settings_module

    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example:6543/stock")
    try:
        reloaded = importlib.reload(settings_module)
        assert reloaded.DATABASES["default"]["HOST"] == "db.example"
        assert reloaded.DATABASES["default"]["NAME"] == "stock"
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


def test_persistent_connections_are_health_checked(monkeypatch):
    monkeypatch.delenv("CONN_MAX_AGE", raising=False)
    default = database_from_url("postgres://postgres@127.0.0.1:5432/test")
    assert (default["CONN_MAX_AGE"], default["CONN_HEALTH_CHECKS"]) == (0, False)
    monkeypatch.setenv("CONN_MAX_AGE", "60")
    kept = database_from_url("postgres://postgres@127.0.0.1:5432/test")
    assert (kept["CONN_MAX_AGE"], kept["CONN_HEALTH_CHECKS"]) == (60, True)
