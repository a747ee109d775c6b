"""The Wayside cloud: business records, admin UI, mobile pages, JSON API and the sync server."""
