"""`/api/v1/cli/`: trailing slashes are optional (the CLI sends them; curl users often don't)."""

from django.urls import re_path

from smarter.apps.api.cli import chat_views, deploy_views, views
from smarter.apps.api.openapi import hidden


# Name-in-path variants: the same views, left out of the OpenAPI document (documented via ?name=).
@hidden
class GetByPath(views.GetView):
    pass


@hidden
class DescribeByPath(views.DescribeView):
    pass


@hidden
class DeleteByPath(views.DeleteView):
    pass


@hidden
class DeployByPath(deploy_views.DeployView):
    pass


@hidden
class UndeployByPath(deploy_views.UndeployView):
    pass


# Second spellings of two verbs: one path each in the OpenAPI document (a pattern with a choice
# in it has no OpenAPI form: it came out as `/api/v1/cli//{kind}/`).
@hidden
class ExampleManifestAlias(views.ExampleManifestView):
    pass


@hidden
class SchemaAlias(views.SchemaView):
    pass


KIND = r"(?P<kind>[A-Za-z][A-Za-z0-9_-]{0,63})"
NAME = r"(?P<name>[^/]{1,255})"

urlpatterns = [
    re_path(r"^apply/?$", views.ApplyView.as_view(), name="cli-apply"),
    re_path(rf"^get/{KIND}/?$", views.GetView.as_view(), name="cli-get"),
    re_path(rf"^get/{KIND}/{NAME}/?$", GetByPath.as_view()),
    re_path(rf"^describe/{KIND}/?$", views.DescribeView.as_view(), name="cli-describe"),
    re_path(rf"^describe/{KIND}/{NAME}/?$", DescribeByPath.as_view()),
    re_path(rf"^delete/{KIND}/?$", views.DeleteView.as_view(), name="cli-delete"),
    re_path(rf"^delete/{KIND}/{NAME}/?$", DeleteByPath.as_view()),
    re_path(rf"^example_manifest/{KIND}/?$", views.ExampleManifestView.as_view(), name="cli-example"),
    re_path(rf"^example-manifest/{KIND}/?$", ExampleManifestAlias.as_view()),
    re_path(rf"^schema/{KIND}/?$", views.SchemaView.as_view(), name="cli-schema"),
    re_path(rf"^json-schema/{KIND}/?$", SchemaAlias.as_view()),
    re_path(rf"^deploy/{KIND}/?$", deploy_views.DeployView.as_view(), name="cli-deploy"),
    re_path(rf"^deploy/{KIND}/{NAME}/?$", DeployByPath.as_view()),
    re_path(rf"^undeploy/{KIND}/?$", deploy_views.UndeployView.as_view(), name="cli-undeploy"),
    re_path(rf"^undeploy/{KIND}/{NAME}/?$", UndeployByPath.as_view()),
    re_path(rf"^chat/config/{NAME}/?$", chat_views.CliChatConfigView.as_view(), name="cli-chat-config"),
    re_path(rf"^chat/{NAME}/?$", chat_views.CliChatView.as_view(), name="cli-chat"),
    re_path(rf"^logs/{KIND}/?$", chat_views.LogsView.as_view(), name="cli-logs"),
    re_path(r"^whoami/?$", views.WhoAmIView.as_view(), name="cli-whoami"),
    re_path(r"^status/?$", views.StatusView.as_view(), name="cli-status"),
    re_path(r"^version/?$", views.VersionView.as_view(), name="cli-version"),
]
