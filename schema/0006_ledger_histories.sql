-- Pulse Ledger warehouse, migration 0006: which history of each ledger the warehouse's rows come from.
--
-- A ledger restored from an archive starts a new history after the LSN it was restored to (the ledger's
-- history.json): ledger-ingest re-reads from Kafka what the archive lacked, and may record it at other LSNs than
-- the lost ledger did. Rows projected from the lost ledger past that LSN then do not match the new ledger LSN for
-- LSN. The projector refuses to go on from a checkpoint past the fork unless this table names the new history:
-- a rebuild from the restored ledger writes it, and so does a projector that positions at or before the fork.
CREATE TABLE ledger_histories (
    ledger_id uuid        PRIMARY KEY,
    history   uuid        NOT NULL,
    fork_lsn  bigint      NOT NULL CHECK (fork_lsn >= 0),
    noted_at  timestamptz NOT NULL DEFAULT now()
);
