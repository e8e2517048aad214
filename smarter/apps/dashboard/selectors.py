"""Reads of the dashboard app; every one takes the account and scopes by it."""
