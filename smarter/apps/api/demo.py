"""The demo `make run` starts with: a product plugin, a course catalogue in SQLite, the product's
manual in a knowledge base with a knowledge plugin searching it, a chatbot using all three, and
a test suite of what that chatbot must keep answering, applied through the same brokers as
`/api/v1/cli/apply/`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from django.db import transaction

from smarter.apps.account.caller import Caller
from smarter.apps.knowledge.selectors import knowledge_base_get
from smarter.apps.knowledge.services import document_add_text
from smarter.apps.plugin.sqlite_files import account_folder
from smarter.lib.manifests import broker_for

DEMO_CHATBOT = "demo"
DEMO_SUITE = "demo_golden"
# The first question `make run` suggests: the manual answers it, and the answer cites it.
MANUAL_QUESTION = "What does the warranty cover?"
MANUAL_DOCUMENT = "gobstopper-manual.md"
MANUAL_TEXT_FILE = Path(__file__).with_name("demo_manual.md")
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

MANUAL_KNOWLEDGE_BASE = _manifest(
    "KnowledgeBase",
    "gobstopper_manual",
    {
        "embedding": {"provider": "local"},
        "chunking": {"strategy": "markdown", "size": 200, "overlap": 20},
        "retrieval": {"mode": "hybrid", "topK": 3},
    },
    description="The Everlasting Gobstopper owner's manual",
)

MANUAL_PLUGIN = _manifest(
    "KnowledgePlugin",
    "gobstopper_manual_search",
    {
        # `llm`: offered on every turn, its prompt overlay applies once the model searches.
        "selector": {"directive": "llm"},
        "prompt": {"systemRole": "Answer from the manual's text and say that it comes from the manual."},
        "knowledge": {
            "knowledgeBase": "gobstopper_manual",
            "topK": 3,
            "description": "Searches the Everlasting Gobstopper owner's manual: flavours, care and cleaning, "
            "storage, safety and allergens, warranty, returns and replacements.",
        },
    },
    pluginClass="knowledge",
    description="Answers from the product manual",
)

DEMO_CHATBOT_MANIFEST = _manifest(
    "Chatbot",
    DEMO_CHATBOT,
    {
        "config": {
            "defaultSystemRole": "You are Smarter's demo assistant. Use your tools to answer about the "
            "Everlasting Gobstopper (its product sheet and its manual) and the course catalogue, and the "
            "calculator for arithmetic.",
            "appName": "Smarter Demo",
            "appAssistant": "Sam",
            "appWelcomeMessage": "Hi, I'm Sam. Ask me about the Everlasting Gobstopper or our courses.",
            "appExamplePrompts": [
                MANUAL_QUESTION,
                "What is the price of the Everlasting Gobstopper?",
                "Which courses cost at most 300 dollars?",
                "What are the gobstopper ingredients?",
            ],
            "appPlaceholder": "Ask me anything...",
            "appInfoUrl": "https://github.com/smarter-sh/smarter",
            "deployed": True,
        },
        "plugins": ["everlasting_gobstopper", "course_catalogue", "gobstopper_manual_search"],
        "functions": ["calculator", "date_calculator"],
    },
    description="The demo chatbot",
)


# Every case holds on the offline provider as on a real model: the facts come from the plugins,
# so the checks are on the plugin called and the facts quoted, not on the wording.
DEMO_SUITE_MANIFEST = _manifest(
    "TestSuite",
    DEMO_SUITE,
    {
        "chatbot": DEMO_CHATBOT,
        "threshold": 1.0,
        "cases": [
            {
                "name": "product_price",
                "prompt": "What is the price of the Everlasting Gobstopper?",
                "mustContain": ["$1.00", "$10.00"],
                "expectPlugins": [{"name": "everlasting_gobstopper", "arguments": {"inquiry_type": "price"}}],
                "tags": ["product"],
            },
            {
                "name": "courses_within_budget",
                "prompt": "Which courses cost at most 300 dollars?",
                "mustContain": ["Intro to AI", "Modern web apps", "SQL for analysts"],
                "mustNotContain": ["Building AI agents"],
                "expectPlugins": [{"name": "course_catalogue", "arguments": {"max_cost": 300}}],
                "tags": ["courses"],
            },
            {
                "name": "warranty_from_the_manual",
                "prompt": MANUAL_QUESTION,
                "mustContain": ["two-year warranty", MANUAL_DOCUMENT],
                "expectPlugins": [{"name": "gobstopper_manual_search"}],
                "forbidPlugins": ["course_catalogue"],
                "tags": ["manual"],
            },
            {
                "name": "ingredients",
                "prompt": "What are the gobstopper ingredients?",
                "expected": "The ingredients are sugar, corn syrup and a secret Wonka ingredient.",
                "scorers": ["similarity"],
                "minScore": 0.5,
                "expectPlugins": [{"name": "everlasting_gobstopper"}],
                "tags": ["product"],
            },
        ],
    },
    description="What the demo chatbot must keep answering right",
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
    """Apply the demo manifests in dependency order and add the manual; returns what each did.

    The manual is ingested (chunked and embedded with the local model) once, after commit: the
    same text again is the same document, so a later `make run` embeds nothing."""
    _courses_database(caller.account.account_number)
    results = []
    documents = (
        PRODUCT_PLUGIN,
        COURSES_CONNECTION,
        COURSES_PLUGIN,
        MANUAL_KNOWLEDGE_BASE,
        MANUAL_PLUGIN,
        DEMO_CHATBOT_MANIFEST,
        DEMO_SUITE_MANIFEST,
    )
    for document in documents:
        broker = broker_for(document["kind"])
        outcome = broker.apply(caller, broker.validate(document))
        results.append(f"{broker.kind}/{document['metadata']['name']} {outcome.action}")
    knowledge_base = knowledge_base_get(account=caller.account, name=MANUAL_KNOWLEDGE_BASE["metadata"]["name"])
    assert knowledge_base is not None, "applied just above"
    manual = document_add_text(
        account=caller.account,
        knowledge_base=knowledge_base,
        name=MANUAL_DOCUMENT,
        text=MANUAL_TEXT_FILE.read_text(encoding="utf-8"),
    )
    results.append(f"Document/{manual.name} {manual.status}")
    return results
