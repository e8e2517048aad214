"""Reads of the chatbot app; every one takes the account and scopes by it."""
