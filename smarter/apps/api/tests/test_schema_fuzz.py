"""schemathesis over `/api/schema/`: every operation of the documented API, called through real
HTTP with an account admin's key (so authenticated routes run their views), never answers a
server error, whatever schemathesis generates from the schema and against it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.doors import ROOT_DOMAIN, Platform
from smarter.apps.knowledge.embedding import preload_local_model

# Examples per operation: enough for each to meet bad names, kinds, numbers and bodies, few
# enough that the whole schema runs in well under two minutes.
EXAMPLES_PER_OPERATION = 15

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform(asgi_server: Any, owner: Persona, smarter_settings: Any) -> Iterator[Platform]:
    smarter_settings.root_domain = ROOT_DOMAIN
    smarter_settings.llm_provider = "offline"
    # Loaded first, as SMARTER_EMBEDDING_PRELOAD does for a served platform: torch and the
    # weights take longer than schemathesis waits for an answer on a busy machine.
    preload_local_model().join()
    served = Platform(asgi_server, owner)
    yield served
    served.close()


@pytest.fixture
def api_schema(platform: Platform) -> Any:
    schema = schemathesis.openapi.from_url(f"{platform.server.url}/api/schema/")
    schema.config.update(base_url=platform.server.url, headers={"Authorization": f"Token {platform.owner.key}"})
    schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, database="none")
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_no_documented_operation_answers_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
