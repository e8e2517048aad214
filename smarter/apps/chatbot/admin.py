"""Django admin of the chatbot app."""
