"""The access domain: white/black lists, access rules for lanes, and access records."""
