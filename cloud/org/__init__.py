"""The org domain: tenants, departments, positions, users, roles, permissions, sessions, audit."""
