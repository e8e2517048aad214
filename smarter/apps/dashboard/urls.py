"""The console: login, the dashboard pages, the sandbox."""

from django.urls import path

from smarter.apps.dashboard.policy import with_console_policy
from smarter.apps.dashboard.views import (
    access_pages,
    account,
    apply,
    channels,
    chatbots,
    conversations,
    embed,
    evals,
    knowledge,
    plugins,
    resources,
    sandbox,
    usage,
    versions,
)

app_name = "dashboard"

urlpatterns = [
    path("", account.home, name="home"),
    path("login/", account.login, name="login"),
    path("logout/", account.logout, name="logout"),
    path("password-reset/", account.password_reset, name="password_reset"),
    path("password-reset/sent/", account.password_reset_done, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", account.password_reset_confirm, name="password_reset_confirm"),
    path("password-reset/complete/", account.password_reset_complete, name="password_reset_complete"),
    path("dashboard/", chatbots.chatbot_list, name="chatbots"),
    path("dashboard/account/", account.switch_account, name="switch_account"),
    path("dashboard/chatbots/", chatbots.chatbot_list),
    path("dashboard/chatbots/<slug:name>/", chatbots.chatbot_detail, name="chatbot"),
    path("dashboard/chatbots/<slug:name>/deploy/", chatbots.chatbot_deployment, {"action": "deploy"}, name="deploy"),
    path(
        "dashboard/chatbots/<slug:name>/undeploy/", chatbots.chatbot_deployment, {"action": "undeploy"}, name="undeploy"
    ),
    path("dashboard/chatbots/<slug:name>/embed/", embed.chatbot_embed, {"command": "apply"}, name="embed"),
    path(
        "dashboard/chatbots/<slug:name>/embed/preview/",
        embed.chatbot_embed,
        {"command": "diff"},
        name="embed_preview",
    ),
    path("dashboard/chatbots/<slug:name>/sandbox/", sandbox.sandbox, name="sandbox"),
    path("dashboard/chatbots/<slug:name>/sandbox/turn/", sandbox.sandbox_turn, name="sandbox_turn"),
    path("dashboard/chatbots/<slug:name>/sandbox/turns/<int:turn_id>/", sandbox.turn_detail, name="turn"),
    path("dashboard/chatbots/<slug:name>/sandbox/feedback/", sandbox.sandbox_feedback, name="sandbox_feedback"),
    path("dashboard/chatbots/<slug:name>/conversations/", conversations.conversation_list, name="conversations"),
    path("dashboard/chatbots/<slug:name>/conversations.csv", conversations.conversations_csv, name="conversations_csv"),
    path(
        "dashboard/chatbots/<slug:name>/conversations.jsonl",
        conversations.conversations_jsonl,
        name="conversations_jsonl",
    ),
    path(
        "dashboard/chatbots/<slug:name>/conversations/<str:session_key>/",
        conversations.conversation_detail,
        name="conversation",
    ),
    path("dashboard/chatbots/<slug:name>/versions/", versions.save_version, name="save_version"),
    path(
        "dashboard/chatbots/<slug:name>/versions/<int:number>/diff/<int:other>/",
        versions.version_diff,
        name="version_diff",
    ),
    path("dashboard/chatbots/<slug:name>/versions/<int:number>/rollback/", versions.rollback, name="rollback"),
    path("dashboard/plugins/", plugins.plugin_list, name="plugins"),
    path("dashboard/plugins/<slug:name>/", plugins.plugin_detail, name="plugin"),
    path("dashboard/plugins/<slug:name>/test/", plugins.plugin_test, name="plugin_test"),
    path("dashboard/connections/", plugins.connection_list, name="connections"),
    path("dashboard/connections/<str:kind>/<slug:name>/", plugins.connection_detail, name="connection"),
    path("dashboard/evals/", evals.suite_list, name="evals"),
    path("dashboard/evals/<slug:name>/runs/", evals.run_start, name="eval_run_start"),
    path("dashboard/evals/<slug:name>/runs/<int:run_id>/", evals.run_detail, name="eval_run"),
    path("dashboard/evals/<slug:name>/runs/<int:run_id>/cancel/", evals.run_cancel, name="eval_run_cancel"),
    path("dashboard/evals/<slug:name>/runs/<int:run_id>/retry/", evals.run_retry, name="eval_run_retry"),
    path(
        "dashboard/evals/<slug:name>/runs/<int:run_id>/results/<int:result_id>/review/",
        evals.result_review,
        name="eval_review",
    ),
    path("dashboard/evals/<slug:name>/compare/", evals.run_compare, name="eval_compare"),
    path("dashboard/secrets/", access_pages.secret_list, name="secrets"),
    path("dashboard/secrets/<slug:name>/", access_pages.secret_change, name="secret"),
    path("dashboard/secrets/<slug:name>/delete/", access_pages.secret_delete, name="secret_delete"),
    path("dashboard/api-keys/", access_pages.api_key_list, name="api_keys"),
    path("dashboard/api-keys/<slug:name>/revoke/", access_pages.api_key_revoke, name="api_key_revoke"),
    path("dashboard/members/", access_pages.member_list, name="members"),
    path("dashboard/members/<str:username>/", access_pages.member_change, name="member"),
    path("dashboard/members/<str:username>/remove/", access_pages.member_remove, name="member_remove"),
    path("dashboard/journal/", access_pages.journal, name="journal"),
    path("dashboard/apply/", apply.apply_manifests, name="apply"),
    path("dashboard/providers/", resources.provider_list, name="providers"),
    path("dashboard/manifests/<str:kind>/new/", resources.resource_new, name="resource_new"),
    path("dashboard/manifests/<str:kind>/<slug:name>/edit/", resources.resource_edit, name="resource_edit"),
    path("dashboard/manifests/<str:kind>/<slug:name>/delete/", resources.resource_delete, name="resource_delete"),
    path("dashboard/manifests/<str:kind>/<slug:name>/manifest/", resources.resource_manifest, name="resource_manifest"),
    path("dashboard/usage/", usage.usage, name="usage"),
    path("dashboard/usage.csv", usage.usage_csv, name="usage_csv"),
    path("dashboard/knowledge/", knowledge.knowledge_list, name="knowledge"),
    path("dashboard/knowledge/<slug:name>/", knowledge.knowledge_base_detail, name="knowledge_base"),
    path("dashboard/knowledge/<slug:name>/documents/", knowledge.knowledge_documents, name="knowledge_documents"),
    path(
        "dashboard/knowledge/<slug:name>/documents/<int:document_id>/delete/",
        knowledge.knowledge_document_delete,
        name="knowledge_document_delete",
    ),
    path("dashboard/knowledge/<slug:name>/search/", knowledge.knowledge_search, name="knowledge_search"),
    path("dashboard/channels/", channels.channel_list, name="channels"),
    path("dashboard/channels/<slug:name>/", channels.channel_detail, name="channel"),
]

# Every console page, those added above later included, carries the console's security policy.
urlpatterns = with_console_policy(urlpatterns)
