-- Pulse Ledger warehouse, migration 0007: where warehouse retention (ledger-projector --retention-days) stands.
--
-- The projector drops the daily partitions of days before first_kept_day, and deletes the DEFAULT partition's rows
-- dated before it. message_keys keeps every row, so an order of a dropped day stays known; when another ledger
-- records that order again, the projector's cross-ledger conflict check finds no row to compare with, and this
-- says why (a row missing after that day would be damage, and stops the projector). At most one row.
CREATE TABLE warehouse_retention (
    singleton      boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    first_kept_day date        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
