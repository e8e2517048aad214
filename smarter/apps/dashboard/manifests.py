"""Manifest kinds of the dashboard app and their brokers."""
