"""crossnav index: repos -> one shared SQLite symbol index."""
