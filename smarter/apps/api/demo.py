"""The demo `make run` starts with: a product plugin, a course catalogue in SQLite and a chatbot
using both, applied through the same brokers as `/api/v1/cli/apply/`."""

from __future__ import annotations

import sqlite3
from typing import Any

from django.db import transaction

from smarter.apps.account.caller import Caller
from smarter.apps.plugin.sqlite_files import account_folder
from smarter.lib.manifests import broker_for

DEMO_CHATBOT = "demo"
COURSES_FILE = "demo_courses.sqlite3"
COURSES = [
    (1, "Intro to AI", "AI", "Machine learning basics for everyone", 300),
    (2, "Building AI agents", "AI", "Tools, function calling and evaluation", 900),
    (3, "Modern web apps", "web", "HTML, CSS and a little JavaScript", 200),
    (4, "Mobile apps", "mobile", "iOS and Android from one code base", 400),
    (5, "SQL for analysts", "database", "Queries, joins and reporting", 250),
]


def _manifest(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}


PRODUCT_PLUGIN = _manifest(
    "Plugin",
    "everlasting_gobstopper",
    {
        "selector": {"directive": "search_terms", "searchTerms": ["gobstopper", "candy", "wonka", "sweets"]},
        "prompt": {"systemRole": "Quote the product facts exactly; never invent prices."},
        "data": {
            "description": "Facts about the Everlasting Gobstopper, our candy: description, price, "
            "ingredients, availability and who to contact.",
            "staticData": {
                "description": "A candy that never gets smaller and never runs out of flavour.",
                "price": {"single": "$1.00", "box of 12": "$10.00"},
                "ingredients": ["sugar", "corn syrup", "a secret Wonka ingredient"],
                "availability": "In stock; ships in 2 business days.",
                "contact": {"name": "Willy Wonka", "email": "ww@wonka.example"},
            },
        },
    },
    pluginClass="static",
    description="The Everlasting Gobstopper product sheet",
)

COURSES_CONNECTION = _manifest(
    "SqlConnection",
    "demo_courses_db",
    {"connection": {"dbEngine": "sqlite", "database": COURSES_FILE, "timeout": 5}},
    description="The demo course catalogue (a SQLite file)",
)

COURSES_PLUGIN = _manifest(
    "SqlPlugin",
    "course_catalogue",
    {
        "selector": {"directive": "search_terms", "searchTerms": ["course", "class", "training", "learn"]},
        "connection": "demo_courses_db",
        "sqlData": {
            "description": "Courses of the catalogue up to a maximum cost, optionally on one topic.",
            "sqlQuery": "SELECT title, topic, summary, cost FROM courses "
            "WHERE cost <= {max_cost} AND ({topic} IS NULL OR topic = {topic}) ORDER BY cost",
            "parameters": [
                {"name": "max_cost", "type": "number", "description": "Highest cost in dollars", "default": 1000},
                {
                    "name": "topic",
                    "type": "string",
                    "description": "The course topic",
                    "enum": ["AI", "web", "mobile", "database"],
                    "required": False,
                },
            ],
            "testValues": [{"name": "max_cost", "value": 300}],
            "limit": 10,
        },
    },
    pluginClass="sql",
    description="Look up courses by budget and topic",
)

DEMO_CHATBOT_MANIFEST = _manifest(
    "Chatbot",
    DEMO_CHATBOT,
    {
        "config": {
            "defaultSystemRole": "You are Smarter's demo assistant. Use your tools to answer about the "
            "Everlasting Gobstopper and the course catalogue, and the calculator for arithmetic.",
            "appName": "Smarter Demo",
            "appAssistant": "Sam",
            "appWelcomeMessage": "Hi, I'm Sam. Ask me about the Everlasting Gobstopper or our courses.",
            "appExamplePrompts": [
                "What is the price of the Everlasting Gobstopper?",
                "Which courses cost at most 300 dollars?",
                "What are the gobstopper ingredients?",
            ],
            "appPlaceholder": "Ask me anything...",
            "appInfoUrl": "https://github.com/smarter-sh/smarter",
            "deployed": True,
        },
        "plugins": ["everlasting_gobstopper", "course_catalogue"],
        "functions": ["calculator", "date_calculator"],
    },
    description="The demo chatbot",
)


def _courses_database(account_number: str) -> None:
    """The catalogue file, in the demo account's own plugin data folder (the only one it may read)."""
    folder = account_folder(account_number)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / COURSES_FILE
    if path.exists():
        return
    database = sqlite3.connect(path)
    with database:
        database.execute(
            "CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT, topic TEXT, summary TEXT, cost INTEGER)"
        )
        database.executemany("INSERT INTO courses VALUES (?, ?, ?, ?, ?)", COURSES)
    database.close()


@transaction.atomic
def seed_demo_resources(caller: Caller) -> list[str]:
    """Apply the demo manifests in dependency order; returns what each one did."""
    _courses_database(caller.account.account_number)
    results = []
    for document in (PRODUCT_PLUGIN, COURSES_CONNECTION, COURSES_PLUGIN, DEMO_CHATBOT_MANIFEST):
        broker = broker_for(document["kind"])
        outcome = broker.apply(caller, broker.validate(document))
        results.append(f"{broker.kind}/{document['metadata']['name']} {outcome.action}")
    return results
