"""One PostgreSQL clone per session, emptied before each test (see tests/fast_fixtures.py)."""

from tests.fast_fixtures import database_url, postgres_reused  # noqa: F401
