-- Pulse Ledger warehouse, migration 0002: rejected messages, gaps and quarantined records.

-- Every message the ledger refused (kind 'rejected': invalid bytes, with reason and field) or recorded as a
-- conflicting duplicate (kind 'conflict': same order_id, different content), for the dashboards. One row per
-- Kafka offset, across ledgers and across tables: message_keys holds its offset too.
CREATE TABLE rejected_messages (
    source_topic        text        NOT NULL,
    source_partition    integer     NOT NULL,
    source_offset       bigint      NOT NULL,
    kind                text        NOT NULL CHECK (kind IN ('rejected', 'conflict')),
    reason              text        NOT NULL,
    field               text        NOT NULL,
    received_at         timestamptz NOT NULL,
    kafka_timestamp     timestamptz,
    message_key         bytea,
    -- The message value as received (at most the ledger's 64 KiB), and the same as text when it is UTF-8.
    raw_bytes           bytea,
    raw_text            text,
    original_byte_count integer     NOT NULL,
    -- For conflicts: the order and the LSN of the accepted record it contradicts.
    order_id            uuid,
    original_lsn        bigint,
    ledger_id           uuid        NOT NULL,
    lsn                 bigint      NOT NULL,
    batch_id            varchar(50) NOT NULL,
    processed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_partition, source_offset, source_topic)
);
CREATE INDEX idx_rejected_received_at ON rejected_messages (received_at);
-- `ledger-tool trace` finds the conflicts of an order through this (conflicts are rare: the index is small).
CREATE INDEX idx_rejected_order_id ON rejected_messages (order_id) WHERE order_id IS NOT NULL;

-- Offsets Kafka deleted (retention) before ledger-ingest could consume them: recorded so every offset is
-- accounted for.
CREATE TABLE ledger_gaps (
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    first_offset     bigint      NOT NULL,
    last_offset      bigint      NOT NULL CHECK (last_offset >= first_offset),
    recorded_at      timestamptz NOT NULL,
    ledger_id        uuid        NOT NULL,
    lsn              bigint      NOT NULL,
    processed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_partition, first_offset, source_topic)
);

-- Records the projector could not turn into rows and set aside because the operator chose --quarantine
-- (without it, such a record stops the projector). Nothing is skipped silently.
CREATE TABLE quarantined_records (
    ledger_id        uuid        NOT NULL,
    lsn              bigint      NOT NULL,
    kind             text        NOT NULL,
    reason           text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    quarantined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ledger_id, lsn)
);
