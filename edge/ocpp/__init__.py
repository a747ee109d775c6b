"""The edge's OCPP 1.6J central system: chargers connect at /ocpp/{charge_point_id}."""
