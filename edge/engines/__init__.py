"""edge/engines."""
