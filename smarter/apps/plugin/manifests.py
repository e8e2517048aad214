"""Manifest kinds of the plugin app and their brokers."""
