"""Reads of the chat app; every one takes the account and scopes by it."""
