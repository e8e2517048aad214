"""Manifest kinds of the chatbot app and their brokers."""
