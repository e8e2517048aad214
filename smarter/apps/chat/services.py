"""Every write of the chat app: one keyword-only function per use case."""
