"""The form of every kind a tenant manages from the console, each a few lines: which fields,
where they go in the manifest, how they are edited. Secrets, API keys and members have their
own pages; the read-only kinds (chat history) and the account's users are not edited here."""

from __future__ import annotations

from smarter.lib.errors import NotFound

from . import choices
from .engine import OMIT, Field, KindForm

NAME = Field("metadata.name", "Name", help="Lowercase letters, digits and underscores; it cannot be changed later")
DESCRIPTION = Field("metadata.description", "Description", "textarea")

# --- chatbots ---------------------------------------------------------------------------------
CHATBOT = KindForm(
    "Chatbot",
    "Chatbot",
    (
        NAME,
        DESCRIPTION,
        Field("spec.config.provider", "Provider", "select", choices=choices.chatbot_providers, group="Model"),
        Field(
            "spec.config.defaultModel",
            "Model",
            "datalist",
            "Pick one or type another; empty: the provider's default model",
            choices=choices.models,
            group="Model",
        ),
        Field("spec.config.defaultSystemRole", "System prompt", "textarea", blank=OMIT, group="Model"),
        Field("spec.config.defaultTemperature", "Temperature", "number", "0 to 2", blank=OMIT, group="Model"),
        Field("spec.config.defaultMaxTokens", "Max tokens", "number", blank=OMIT, group="Model"),
        Field("spec.plugins", "Plugins", "checkboxes", "Tools the chatbot may call", choices.plugins, group="Tools"),
        Field("spec.functions", "Built-in functions", "checkboxes", choices=choices.functions, group="Tools"),
        Field("spec.config.appName", "Page title", group="Branding"),
        Field("spec.config.appWelcomeMessage", "Welcome message", "textarea", group="Branding"),
        Field("spec.config.appExamplePrompts", "Example prompts", "lines", "One per line", blank=[], group="Branding"),
        Field(
            "spec.config.subdomain",
            "Subdomain",
            help="Of the default host; empty: the name",
            blank=None,
            group="Access",
        ),
        Field(
            "spec.config.customDomain",
            "Custom domain",
            help="e.g. chat.example.com, verified by a DNS TXT record",
            blank=None,
            admin_only=True,
            group="Access",
        ),
        Field(
            "spec.config.allowedOrigins",
            "Allowed origins",
            "lines",
            "Sites that may embed the widget, one per line: https://www.example.com",
            blank=[],
            admin_only=True,
            group="Access",
        ),
        Field(
            "spec.apiKey",
            "Required API key",
            "select",
            "With a key, the chatbot's chat endpoints need it",
            choices.api_keys,
            blank=None,
            admin_only=True,
            group="Access",
        ),
        Field(
            "spec.config.deployed", "Deployed", "checkbox", "Served on its own host", admin_only=True, group="Access"
        ),
    ),
    intro="A chatbot answers with a model and acts through the plugins attached to it.",
)

# --- plugins ----------------------------------------------------------------------------------
SELECTOR = (
    Field(
        "spec.selector.directive",
        "Offered to the model",
        "select",
        "always: on every turn; search_terms: when the conversation mentions a term; llm: the model decides",
        choices.fixed("always", "search_terms", "llm"),
        initial="always",
        group="Selection",
    ),
    Field(
        "spec.selector.searchTerms",
        "Search terms",
        "lines",
        "One per line; only with search_terms",
        blank=OMIT,
        group="Selection",
    ),
)
PARAMETERS_HELP = 'JSON list: [{"name": "city", "type": "string", "description": "...", "required": true}]'
TEST_VALUES_HELP = 'JSON list: [{"name": "city", "value": "Paris"}], used by the test runner'

STATIC_PLUGIN = KindForm(
    "Plugin",
    "Static plugin",
    (
        NAME,
        DESCRIPTION,
        *SELECTOR,
        Field("spec.data.description", "What the model reads", "textarea", group="Data"),
        Field("spec.data.staticData", "Data", "json", 'JSON object: {"price": "$12.50"}', group="Data"),
    ),
    metadata={"pluginClass": "static"},
    intro="Answers from data you give here.",
)
SQL_PLUGIN = KindForm(
    "SqlPlugin",
    "SQL plugin",
    (
        NAME,
        DESCRIPTION,
        *SELECTOR,
        Field("spec.connection", "Connection", "select", choices=choices.sql_connections, group="Query"),
        Field("spec.sqlData.description", "What the model reads", "textarea", group="Query"),
        Field(
            "spec.sqlData.sqlQuery", "SQL query", "code", "One SELECT; {param} placeholders are bound", group="Query"
        ),
        Field("spec.sqlData.parameters", "Parameters", "json", PARAMETERS_HELP, blank=[], initial=[], group="Query"),
        Field("spec.sqlData.testValues", "Test values", "json", TEST_VALUES_HELP, blank=[], initial=[], group="Query"),
        Field("spec.sqlData.limit", "Row limit", "number", blank=OMIT, initial=10, group="Query"),
    ),
    metadata={"pluginClass": "sql"},
    intro="Runs a read-only query on one of your SQL connections.",
)
API_PLUGIN = KindForm(
    "ApiPlugin",
    "REST API plugin",
    (
        NAME,
        DESCRIPTION,
        *SELECTOR,
        Field("spec.connection", "Connection", "select", choices=choices.api_connections, group="Request"),
        Field("spec.apiData.description", "What the model reads", "textarea", group="Request"),
        Field("spec.apiData.endpoint", "Endpoint", help="Path under the connection's base URL", group="Request"),
        Field(
            "spec.apiData.method",
            "Method",
            "select",
            choices=choices.fixed("GET", "POST", "PUT", "PATCH", "DELETE"),
            initial="GET",
            group="Request",
        ),
        Field("spec.apiData.parameters", "Parameters", "json", PARAMETERS_HELP, blank=[], initial=[], group="Request"),
        Field(
            "spec.apiData.testValues", "Test values", "json", TEST_VALUES_HELP, blank=[], initial=[], group="Request"
        ),
        Field("spec.apiData.body", "Body", "json", "JSON; empty: none", blank=OMIT, group="Request"),
        Field("spec.apiData.limit", "Item limit", "number", blank=OMIT, initial=10, group="Request"),
    ),
    metadata={"pluginClass": "api"},
    intro="Calls a REST API through one of your API connections.",
)
KNOWLEDGE_PLUGIN = KindForm(
    "KnowledgePlugin",
    "Knowledge plugin",
    (
        NAME,
        DESCRIPTION,
        *SELECTOR,
        Field("spec.knowledge.knowledgeBase", "Knowledge base", "select", choices=choices.knowledge_bases),
        Field("spec.knowledge.description", "What the model reads", "textarea"),
        Field("spec.knowledge.topK", "Chunks per search", "number", "Empty: the knowledge base's", blank=OMIT),
    ),
    metadata={"pluginClass": "knowledge"},
    intro="Searches one of your knowledge bases and cites what it found.",
)

# --- connections and providers ----------------------------------------------------------------
CREDENTIAL_HELP = "A Secret's name; only an account admin may name, change or remove one"
SQL_CONNECTION = KindForm(
    "SqlConnection",
    "SQL connection",
    (
        NAME,
        DESCRIPTION,
        Field(
            "spec.connection.dbEngine",
            "Engine",
            "select",
            choices=choices.fixed("sqlite", "mysql", "postgresql"),
            initial="sqlite",
        ),
        Field("spec.connection.database", "Database", help="For sqlite: a file of your account's plugin data folder"),
        Field("spec.connection.hostname", "Host name", help="Not used by sqlite"),
        Field("spec.connection.port", "Port", "number", blank=None),
        Field("spec.connection.username", "User name"),
        Field("spec.connection.password", "Password", "select", CREDENTIAL_HELP, choices.secrets, blank=None),
        Field("spec.connection.timeout", "Timeout (seconds)", "number", blank=OMIT, initial=10),
    ),
)
API_CONNECTION = KindForm(
    "ApiConnection",
    "API connection",
    (
        NAME,
        DESCRIPTION,
        Field("spec.connection.baseUrl", "Base URL"),
        Field(
            "spec.connection.authMethod",
            "Authentication",
            "select",
            choices=choices.fixed("none", "basic", "token", "header"),
            initial="none",
        ),
        Field("spec.connection.apiKey", "Credential", "select", CREDENTIAL_HELP, choices.secrets, blank=None),
        Field("spec.connection.username", "User name", help="For basic authentication"),
        Field("spec.connection.headerName", "Header name", help="For header authentication; default X-API-Key"),
        Field("spec.connection.timeout", "Timeout (seconds)", "number", blank=OMIT, initial=10),
    ),
)
PROVIDER = KindForm(
    "Provider",
    "Provider",
    (
        NAME,
        DESCRIPTION,
        Field("spec.provider.baseUrl", "Base URL", help="OpenAI-compatible, e.g. https://api.groq.com/openai/v1"),
        Field("spec.provider.apiKey", "API key", "select", "A Secret holding the key", choices.secrets, blank=None),
        Field("spec.provider.defaultModel", "Default model"),
        Field("spec.provider.timeout", "Timeout (seconds)", "number", blank=OMIT, initial=60),
    ),
    intro="Your own OpenAI-compatible endpoint; its name can be a chatbot's provider.",
)

# --- knowledge, evaluation, channels ----------------------------------------------------------
KNOWLEDGE_BASE = KindForm(
    "KnowledgeBase",
    "Knowledge base",
    (
        NAME,
        DESCRIPTION,
        Field(
            "spec.embedding.provider",
            "Embedding provider",
            "select",
            choices=choices.embedding_providers,
            initial="local",
        ),
        Field("spec.embedding.model", "Embedding model", initial="all-MiniLM-L6-v2"),
        Field(
            "spec.chunking.strategy",
            "Chunking",
            "select",
            choices=choices.fixed("recursive", "markdown", "parent_child"),
            initial="recursive",
        ),
        Field("spec.chunking.size", "Chunk size (tokens)", "number", blank=OMIT, initial=256),
        Field("spec.chunking.overlap", "Overlap (tokens)", "number", blank=OMIT, initial=32),
        Field(
            "spec.retrieval.mode",
            "Retrieval",
            "select",
            choices=choices.fixed("hybrid", "dense", "lexical"),
            initial="hybrid",
        ),
        Field("spec.retrieval.topK", "Chunks per search", "number", blank=OMIT, initial=5),
    ),
    intro="Documents your chatbots answer from, through a knowledge plugin.",
)
CASES_EXAMPLE = [{"name": "price", "prompt": "What does the Gizmo cost?", "mustContain": ["$12.50"]}]
TEST_SUITE = KindForm(
    "TestSuite",
    "Test suite",
    (
        NAME,
        DESCRIPTION,
        Field("spec.chatbot", "Chatbot", "select", choices=choices.chatbots),
        Field(
            "spec.threshold",
            "Pass threshold",
            "number",
            "Share of cases that must pass, 0 to 1",
            blank=OMIT,
            initial=0.8,
        ),
        Field(
            "spec.cases",
            "Cases",
            "json",
            "JSON list of cases: name, prompt (or turns), expected, mustContain, mustNotContain, expectPlugins…",
            initial=CASES_EXAMPLE,
        ),
    ),
    intro="Cases with expected answers, asked of a chatbot on every run.",
)
WHATSAPP, TWILIO = ("spec.type", "whatsapp"), ("spec.type", "twilio")
CHANNEL = KindForm(
    "Channel",
    "Channel",
    (
        NAME,
        DESCRIPTION,
        Field("spec.chatbot", "Chatbot", "select", choices=choices.chatbots),
        Field("spec.type", "Type", "select", choices=choices.fixed("whatsapp", "twilio"), initial="whatsapp"),
        Field("spec.config.phoneNumberId", "Phone number id", when=WHATSAPP, group="WhatsApp (type whatsapp)"),
        Field(
            "spec.config.accessToken",
            "Access token",
            "select",
            CREDENTIAL_HELP,
            choices.secrets,
            OMIT,
            when=WHATSAPP,
            group="WhatsApp (type whatsapp)",
        ),
        Field(
            "spec.config.appSecret",
            "App secret",
            "select",
            CREDENTIAL_HELP,
            choices.secrets,
            OMIT,
            when=WHATSAPP,
            group="WhatsApp (type whatsapp)",
        ),
        Field(
            "spec.config.verifyToken",
            "Verify token",
            "select",
            CREDENTIAL_HELP,
            choices.secrets,
            OMIT,
            when=WHATSAPP,
            group="WhatsApp (type whatsapp)",
        ),
        Field(
            "spec.config.graphBaseUrl",
            "Graph API URL",
            help="Empty: Meta's",
            blank=OMIT,
            when=WHATSAPP,
            group="WhatsApp (type whatsapp)",
        ),
        Field("spec.config.accountSid", "Account SID", when=TWILIO, group="Twilio (type twilio)"),
        Field(
            "spec.config.authToken",
            "Auth token",
            "select",
            CREDENTIAL_HELP,
            choices.secrets,
            OMIT,
            when=TWILIO,
            group="Twilio (type twilio)",
        ),
        Field(
            "spec.config.fromNumber",
            "From number",
            help="E.164, e.g. +15551234567",
            when=TWILIO,
            group="Twilio (type twilio)",
        ),
        Field(
            "spec.config.apiBaseUrl",
            "API URL",
            help="Empty: Twilio's",
            blank=OMIT,
            when=TWILIO,
            group="Twilio (type twilio)",
        ),
        Field(
            "spec.config.publicUrl",
            "Public URL",
            help="Empty: the webhook URL",
            blank=OMIT,
            when=TWILIO,
            group="Twilio (type twilio)",
        ),
        Field("spec.limits.perMinute", "Turns per sender per minute", "number", blank=OMIT, initial=6, group="Limits"),
        Field("spec.limits.perDay", "Turns per sender per day", "number", blank=OMIT, initial=200, group="Limits"),
    ),
    starter={"config": {}},
    intro="Puts a chatbot on a WhatsApp or Twilio number.",
)

FORMS: dict[str, KindForm] = {
    form.kind: form
    for form in (
        CHATBOT,
        STATIC_PLUGIN,
        SQL_PLUGIN,
        API_PLUGIN,
        KNOWLEDGE_PLUGIN,
        SQL_CONNECTION,
        API_CONNECTION,
        PROVIDER,
        KNOWLEDGE_BASE,
        TEST_SUITE,
        CHANNEL,
    )
}
PLUGIN_KINDS = {"static": "Plugin", "sql": "SqlPlugin", "api": "ApiPlugin", "knowledge": "KnowledgePlugin"}


def form_for(kind: str) -> KindForm:
    """The form of a kind named exactly as manifests name it; another word is a 404."""
    form = FORMS.get(kind)
    if form is None:
        raise NotFound(f"The console has no form for {kind!r}.", context={"kind": kind})
    return form
