"""Django admin of the chat app."""
