"""Fixtures every test can use: the three personas of tenancy, and real backing services.

`owner` (admin of Acme), `teammate` (member of Acme) and `outsider` (admin of Globex, another
account) let every endpoint be tested for tenancy by default.

A test that needs a service this machine lacks skips with a reason naming it; with
SMARTER_REQUIRE_SERVICES=1 (set by CI) such a skip fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona

pytest_plugins = ["smarter.testing.fixtures"]

REQUIRE_SERVICES = os.environ.get("SMARTER_REQUIRE_SERVICES", "") in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but SMARTER_REQUIRE_SERVICES=1 forbids skips: {reason}"


@pytest.fixture(autouse=True)
def _fresh_process_limits() -> Iterator[None]:
    """Limits kept in this process start afresh in each test: sign-ins all come from 127.0.0.1,
    and rolled-back tests reuse user ids, so counts would leak from one test into the next."""
    from smarter.apps.account.billing import limits

    limits.forget_local_state()
    yield
    limits.forget_local_state()


@pytest.fixture
def acme(db: Any) -> Any:
    return make_account("Acme")


@pytest.fixture
def owner(acme: Any) -> Persona:
    return make_persona(acme, "owner", Role.ADMIN)


@pytest.fixture
def teammate(acme: Any) -> Persona:
    return make_persona(acme, "teammate", Role.MEMBER)


@pytest.fixture
def outsider(db: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


class AsgiServer:
    """The platform served by uvicorn in a thread of the test process (so it shares the test
    database), on a free loopback port: the async doors run exactly as in production. `app`
    replaces the served application (a test of one ASGI layer)."""

    def __init__(self, app: Any = None) -> None:
        import socket

        self.app = app

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import threading
        import time

        import uvicorn

        app = self.app
        if app is None:
            # Imported only here: `smarter.asgi` builds Django's middleware when first imported,
            # and they keep the settings of that moment. A test serving its own application
            # under overridden settings must not be the one that imports it.
            from smarter.asgi import application  # the served application, routes in front of Django

            app = application
        # As in production, the server reads no proxy header: SMARTER_TRUSTED_PROXIES decides.
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until no request is being answered: what a test started ends within that test, and
        writes nothing into the next one's database."""
        import time

        deadline = time.monotonic() + timeout
        while self.server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.fixture(scope="session")
def served_platform(django_db_setup: Any) -> Iterator[AsgiServer]:
    """The platform served once per test process: starting uvicorn for every test cost more
    than most tests. Started once the test database exists, so that its threads use that one."""
    server = AsgiServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def asgi_server(transactional_db: Any, served_platform: AsgiServer) -> Iterator[AsgiServer]:
    """The served platform, for a test whose commits (`transactional_db`) it reads."""
    yield served_platform
    served_platform.wait_idle()


@pytest.fixture(autouse=True)
def _prices_as_migrated(request: pytest.FixtureRequest) -> Any:
    """The price table as the migrations seed it, read afresh by each test. A transactional test
    empties every table when it ends, prices included, and a model without a price is refused on
    the platform's key; each process also keeps prices for a while (`pricing.CACHE_SECONDS`)."""
    from smarter.apps.account.pricing import forget_prices

    forget_prices()
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (marker is not None and marker.kwargs.get("transaction")):
        from smarter.apps.account.billing.models import Price
        from smarter.apps.account.pricing import seed_default_prices

        request.getfixturevalue("_django_db_helper")
        if not Price.objects.exists():
            seed_default_prices(Price)
    yield
    forget_prices()
