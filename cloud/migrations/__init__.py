"""Checked-in schema migrations of the cloud database (Tortoise ORM migrations)."""
