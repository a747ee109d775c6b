"""The sites domain: sites, gates, lanes, devices, edges and the sync ledger between them."""
