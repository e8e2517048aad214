"""A MySQL or PostgreSQL SqlConnection on an installation without that engine's driver (`make
run` installs none): apply answers 400 at `spec.connection.dbEngine` naming the extra to install,
and a connection stored before the driver went away fails where it is used with the same words,
never a 500. The driver is made unimportable for the test as Python does for a missing module."""

from __future__ import annotations

import sys

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.plugin.tests.conftest import apply, error_locs, manifest

pytestmark = pytest.mark.django_db

ENGINES = [("mysql", "MySQLdb", "mysql"), ("postgresql", "psycopg", "postgres")]


def connection(engine: str) -> dict[str, object]:
    return manifest(
        "SqlConnection",
        "warehouse",
        {"connection": {"dbEngine": engine, "hostname": "db.example.com", "database": "shop", "username": "r"}},
    )


@pytest.mark.parametrize(("engine", "module", "extra"), ENGINES)
def test_applying_a_connection_without_its_driver_is_a_400_naming_the_extra(
    owner: Persona, teammate: Persona, monkeypatch: pytest.MonkeyPatch, engine: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import` now raises ImportError
    before = database_snapshot()

    for persona in (owner, teammate):
        response = apply(persona, connection(engine))

        assert response.status_code == 400, response.content
        assert error_locs(response) == {
            "spec.connection.dbEngine": f"the {engine} driver is not installed on this server: install it with "
            f"pip install 'smarter[{extra}]'"
        }
    assert database_snapshot() == before


@pytest.mark.parametrize(("engine", "module", "extra"), ENGINES)
def test_a_stored_connection_whose_driver_went_away_fails_where_it_is_used(
    owner: Persona, monkeypatch: pytest.MonkeyPatch, engine: str, module: str, extra: str
) -> None:
    assert apply(owner, connection(engine)).status_code == 200
    plugin = manifest(
        "SqlPlugin",
        "stock",
        {
            "selector": {"directive": "always"},
            "connection": "warehouse",
            "sqlData": {"description": "Stock", "sqlQuery": "SELECT 1"},
        },
    )
    assert apply(owner, plugin).status_code == 200
    monkeypatch.setitem(sys.modules, module, None)

    tested = owner.client.post("/api/v1/plugins/stock/test/", {}, format="json")
    described = owner.client.get("/api/v1/cli/describe/sqlconnection/?name=warehouse")

    message = f"the {engine} driver is not installed on this server: install it with pip install 'smarter[{extra}]'"
    assert tested.status_code == 200
    assert tested.json()["error"] == message
    assert described.status_code == 200
    assert described.json()["data"]["status"]["health"]["detail"] == message
