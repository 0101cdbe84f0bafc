"""crossnav server: the language server that answers from the shared index."""
