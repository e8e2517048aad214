"""Manifest kinds of the chat app and their brokers."""
