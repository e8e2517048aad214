"""Every write of the chatbot app: one keyword-only function per use case."""
