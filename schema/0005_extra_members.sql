-- Pulse Ledger warehouse, migration 0005: the members of a message outside the schema, kept with ledger-ingest
-- --unknown-fields keep (a producer that added payment_method), as one JSON object; NULL when there were none.
ALTER TABLE transactions ADD COLUMN extra_members jsonb;
