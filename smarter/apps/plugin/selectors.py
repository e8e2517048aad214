"""Reads of the plugin app; every one takes the account and scopes by it."""
