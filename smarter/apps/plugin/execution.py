"""The one way the chat pipeline (and the test endpoint) runs a plugin or a built-in function.

`plugin_execute` never raises for anything a model or a customer system can cause: bad
arguments, an unreachable database, a slow query, an API error. Those become a PluginResult
with `error`, which is what the model reads as the tool's answer.

No credential leaves through a result: every secret a plugin sends (a database password, an
API token) is scrubbed from its result, its error and the request it shows, and from every log
line written while it runs, before the model, the tester or the stored tool calls see them.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from smarter.apps.account import services as account_services
from smarter.apps.knowledge.embedding import EmbeddingError
from smarter.apps.knowledge.services import knowledge_search
from smarter.apps.plugin import api_runner, sql_runner
from smarter.apps.plugin.arguments import ArgumentError, validate_arguments
from smarter.apps.plugin.builtins import BUILTINS, BuiltinError
from smarter.apps.plugin.models import ApiConnection, Plugin, SqlConnection
from smarter.apps.plugin.sql_guard import UnsafeQuery, bind, check_query
from smarter.lib.errors import SmarterError
from smarter.lib.redaction import NOTHING, Redactor, scrubbing_logs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginResult:
    """What one tool call gave: a result or an error, how long it took, and what ran."""

    result: Any = None
    error: str | None = None
    ms: float = 0.0
    executed: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error} if self.error is not None else {"result": self.result}
        body["ms"] = round(self.ms, 3)
        body["executed"] = self.executed
        return body

    def for_model(self) -> Any:
        """The tool message content the model sees."""
        return {"error": self.error} if self.error is not None else self.result


def sql_target(connection: SqlConnection) -> sql_runner.Target:
    password = account_services.secret_reveal(secret=connection.password) if connection.password else ""
    return sql_runner.Target(
        engine=connection.db_engine,
        hostname=connection.hostname,
        port=connection.port,
        database=connection.database,
        username=connection.username,
        password=password,
        timeout=connection.timeout,
        # Only a SQLite file lives in the account's folder (and reading the account costs a query).
        account_number=connection.account.account_number if connection.db_engine == "sqlite" else "",
    )


def api_target(connection: ApiConnection) -> api_runner.ApiTarget:
    secret = account_services.secret_reveal(secret=connection.api_key) if connection.api_key else ""
    return api_runner.ApiTarget(
        base_url=connection.base_url,
        auth_method=connection.auth_method,
        secret=secret,
        username=connection.username,
        header_name=connection.header_name,
        timeout=connection.timeout,
    )


class _Run:
    """What has run so far, so an error can still show the statement or request it came from,
    and the secrets it has used, to scrub from all that comes back."""

    def __init__(self, stack: ExitStack) -> None:
        self.executed: Any = None
        self.redactor = NOTHING
        self._stack = stack

    def uses(self, redactor: Redactor) -> None:
        """From now until the run ends, these secrets are scrubbed from every log line too."""
        self.redactor = self.redactor + redactor
        self._stack.enter_context(scrubbing_logs(redactor))


def plugin_execute(*, plugin: Plugin, arguments: Any) -> PluginResult:
    """Validate `arguments` against the plugin's parameters, run it, and time it."""
    started = time.perf_counter()
    result: Any = None
    error: str | None = None
    with ExitStack() as stack:
        run = _Run(stack)
        try:
            if plugin.plugin_class == "static":
                result = _execute_static(plugin, arguments, run)
            elif plugin.plugin_class == "knowledge":
                result = _execute_knowledge(plugin, validate_arguments(KNOWLEDGE_PARAMETERS, arguments), run)
            elif plugin.plugin_class == "sql":
                result = _execute_sql(plugin, validate_arguments(plugin.parameters, arguments), run)
            else:
                result = _execute_api(plugin, validate_arguments(plugin.parameters, arguments), run)
        except (
            ArgumentError,
            KnowledgeRunError,
            sql_runner.SqlRunError,
            api_runner.ApiRunError,
            UnsafeQuery,
        ) as problem:
            error = str(problem)
        except SmarterError as problem:
            # The knowledge app's refusals (an embedding endpoint down, a bad query) say what is wrong.
            error = problem.description
        except EmbeddingError as problem:
            error = f"the knowledge base could not be searched: {problem}"
        except Exception:
            # A bug of ours: logged in full (scrubbed); the model and the tester get a short sentence.
            logger.exception("plugin %s failed", plugin.name)
            error = "the plugin failed unexpectedly"
    # The last word: whatever path a secret took into the answer, it stops here.
    scrub = run.redactor
    return PluginResult(
        scrub.value(result),
        scrub.text(error) if error is not None else None,
        (time.perf_counter() - started) * 1000,
        scrub.value(run.executed),
    )


def _execute_static(plugin: Plugin, arguments: Any, run: _Run) -> Any:
    static = plugin.data.get("staticData") or {}
    parameters = [{"name": "inquiry_type", "type": "string", "required": True, "enum": list(static)}]
    values = validate_arguments(parameters, arguments)
    run.executed = {"inquiry_type": values["inquiry_type"]}
    return static[values["inquiry_type"]]


def bound_values(names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
    """Values in placeholder order; arrays and objects are sent as JSON text."""
    import json

    out = []
    for name in names:
        value = values.get(name)
        out.append(json.dumps(value) if isinstance(value, list | dict) else value)
    return out


def _execute_sql(plugin: Plugin, values: dict[str, Any], run: _Run) -> Any:
    connection = plugin.sql_connection
    if connection is None:
        raise sql_runner.SqlRunError("the plugin has no connection")
    target = sql_target(connection)
    run.uses(Redactor.of(target.password))
    query = str(plugin.data.get("sqlQuery", ""))
    # Checked at apply; checked again here because the connection's engine may have changed since.
    check_query(query, engine=connection.db_engine, parameter_names={p["name"] for p in plugin.parameters})
    bound = bind(query, engine=connection.db_engine)
    parameters = bound_values(bound.names, values)
    run.executed = {"sql": bound.display, "parameters": parameters}
    limit = int(plugin.data.get("limit") or 10)
    return sql_runner.run_query(target, bound, parameters, limit=limit)


def _execute_api(plugin: Plugin, values: dict[str, Any], run: _Run) -> Any:
    connection = plugin.api_connection
    if connection is None:
        raise api_runner.ApiRunError("the plugin has no connection")
    target = api_target(connection)
    run.uses(target.redactor())
    request = api_runner.prepare(target, plugin.data, values)
    run.executed = request.executed()
    return api_runner.send(target, request, limit=int(plugin.data.get("limit") or 10))


# The arguments of every knowledge plugin (the tool schema's `query`, in `tools.py`).
KNOWLEDGE_PARAMETERS = [{"name": "query", "type": "string", "required": True}]


class KnowledgeRunError(Exception):
    """A knowledge plugin that cannot search; the message is what the model reads."""


def _execute_knowledge(plugin: Plugin, values: dict[str, Any], run: _Run) -> Any:
    """The knowledge base's best chunks for the model's query: `{"results": [...]}`, each with
    the document it came from, its number, score and text. The chat turn cites them."""
    knowledge_base = plugin.knowledge_base
    if knowledge_base is None:
        raise KnowledgeRunError("the plugin has no knowledge base")
    query = " ".join(str(values["query"]).split())
    if not query:
        raise KnowledgeRunError("argument 'query' is empty; ask with the user's question")
    top_k = plugin.data.get("topK")
    run.executed = {"knowledgeBase": knowledge_base.name, "query": query, "topK": top_k}
    results = knowledge_search(knowledge_base=knowledge_base, query=query, top_k=top_k)
    return {"results": [result.as_dict() for result in results]}


def builtin_execute(*, name: str, arguments: Any) -> PluginResult:
    """Run a built-in function (calculator, date_calculator) the same way as a plugin."""
    started = time.perf_counter()
    builtin = BUILTINS.get(name)
    result: Any = None
    error: str | None = None
    if builtin is None:
        error = f"unknown function {name!r}"
    elif not isinstance(arguments, dict):
        error = "arguments must be a JSON object"
    else:
        try:
            result = builtin.run(arguments)
        except (BuiltinError, TypeError) as problem:
            error = str(problem)
    return PluginResult(
        result, error, (time.perf_counter() - started) * 1000, {"function": name, "arguments": arguments}
    )
