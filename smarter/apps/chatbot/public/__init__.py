"""A deployed chatbot's public surface: host routing, the branded page, its chat endpoints and widget.

Floor 6 (a door): it may import every app below it.
"""
