"""A deployed chatbot's public surface: host routing, the branded page, its chat endpoints and widget.

Floor 8 (a door): it may import every app below it, and no other door (`.importlinter`).
"""
