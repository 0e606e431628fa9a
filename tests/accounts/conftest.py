"""The accounts tests go through the pages too, and read them in English like tests/web."""

from tests.web.conftest import client  # noqa: F401
