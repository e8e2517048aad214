"""The `smarter` command-line client: kubectl-like verbs over the `/api/v1/cli/` endpoints, and chat.

It is a client only: it speaks HTTP to a Smarter server and imports nothing from the server's
code, so it can be installed and run on a machine that has no Django.
"""
