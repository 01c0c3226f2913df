// GENERATED from schema/*.sql by ProjectorTests (MigrationFileTests). Do not edit by hand: after changing schema/,
// run `PULSE_REGENERATE_MIGRATIONS=1 swift test --scratch-path .build-projector --filter MigrationFileTests`.
// A test fails whenever this file and schema/ disagree.

extension Migration {
    static let embedded: [Migration] = [
        Migration(version: 1, name: "0001_transactions.sql", sql: #"""
-- Pulse Ledger warehouse, migration 0001: transactions (partitioned by day), message keys, projector checkpoints.
--
-- Migrations are forward-only and applied in order (all pending ones in one transaction) by `ledger-tool
-- migrate` and by ledger-projector at start; `schema_migrations` records them. Names are unqualified on purpose:
-- the migrator sets search_path to the target schema, so the same files build the live schema and a rebuild's
-- shadow one.

-- The original ETL's table, with exact money, lineage back to the ledger and the Kafka message, and the
-- version of the fraud rule that set is_fraud_flagged. No serial id: a row is identified by its lineage
-- (ledger_id, lsn), which a rebuild reproduces; a serial would not.
CREATE TABLE transactions (
    order_id              uuid           NOT NULL,
    amount                numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency              varchar(3)     NOT NULL,
    tax_amount            numeric(12, 2) NOT NULL,
    -- 9 999 999 999.99 (the largest amount) plus 8.5 % tax needs 11 integer digits: one more than the original.
    total_amount          numeric(13, 2) NOT NULL,
    is_fraud_flagged      boolean        NOT NULL DEFAULT false,
    customer_id           varchar(50)    NOT NULL,
    product_category      varchar(50)    NOT NULL,
    transaction_timestamp timestamptz    NOT NULL,
    processed_at          timestamptz    NOT NULL DEFAULT now(),
    batch_id              varchar(50)    NOT NULL,
    ledger_id             uuid           NOT NULL,
    lsn                   bigint         NOT NULL CHECK (lsn > 0),
    source_topic          text           NOT NULL,
    source_partition      integer        NOT NULL,
    source_offset         bigint         NOT NULL,
    rules_version         integer        NOT NULL
) PARTITION BY RANGE (transaction_timestamp);

-- One partition per UTC day is created ahead of need by the projector (transactions_pYYYYMMDD). Rows for a day
-- without one (far past, far future) land here: nothing is ever refused.
CREATE TABLE transactions_default PARTITION OF transactions DEFAULT;

-- The original indexes. The fraud index is partial: only flagged rows (about 5 %) are ever looked up by it.
-- The customer index also orders by time, for the velocity rule's "orders in the last N minutes".
CREATE INDEX idx_transactions_timestamp ON transactions (transaction_timestamp);
CREATE INDEX idx_transactions_fraud ON transactions (is_fraud_flagged) WHERE is_fraud_flagged;
CREATE INDEX idx_transactions_customer ON transactions (customer_id, transaction_timestamp);

-- A unique constraint on a partitioned table must include the partition key, so exactly-once is kept in this
-- unpartitioned table, written in the same transaction as the rows: one row per Kafka message the warehouse
-- holds, whether it became a transaction (order_id set) or a rejected message (order_id NULL). Its keys make
-- each Kafka offset and each order appear once in the warehouse, across ledgers: two ingest instances may both
-- record an offset after a crash, each in its own ledger, and the warehouse keeps whichever is projected first
-- (DESIGN.md, "Scaling out"). transaction_timestamp leads from an order to its partition.
CREATE TABLE message_keys (
    source_topic          text        NOT NULL,
    source_partition      integer     NOT NULL,
    source_offset         bigint      NOT NULL,
    order_id              uuid,
    transaction_timestamp timestamptz,
    ledger_id             uuid        NOT NULL,
    lsn                   bigint      NOT NULL,
    -- Integer columns first: most comparisons end there, without touching the text (~15 % faster inserts).
    PRIMARY KEY (source_partition, source_offset, source_topic),
    CONSTRAINT message_keys_order_unique UNIQUE (order_id),
    CHECK ((order_id IS NULL) = (transaction_timestamp IS NULL))
);

-- Where projection of each ledger stands: every record up to last_lsn is in the warehouse. Updated in the same
-- transaction as the rows it covers, so rows and checkpoint never disagree.
CREATE TABLE projector_checkpoints (
    ledger_id  uuid        PRIMARY KEY,
    last_lsn   bigint      NOT NULL CHECK (last_lsn >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""#),
        Migration(version: 2, name: "0002_rejected_gaps_quarantine.sql", sql: #"""
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
"""#),
        Migration(version: 3, name: "0003_fraud_rules_and_views.sql", sql: #"""
-- Pulse Ledger warehouse, migration 0003: versioned fraud rules, alert thresholds, and the dashboards' views.

-- Fraud rules are versioned: a version never changes once written (the trigger below refuses UPDATE and
-- DELETE); to change a rule, insert a new version. The projector flags rows with the newest 'amount_above'
-- version when it starts and records that version in transactions.rules_version; the velocity view evaluates
-- the newest 'customer_velocity' version at query time.
CREATE TABLE fraud_rules (
    version             integer     PRIMARY KEY CHECK (version > 0),
    rule                text        NOT NULL CHECK (rule IN ('amount_above', 'customer_velocity')),
    description         text        NOT NULL,
    amount_threshold    numeric(12, 2),
    velocity_orders_min integer     CHECK (velocity_orders_min >= 2),
    velocity_window     interval    CHECK (velocity_window > interval '0'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((rule = 'amount_above') = (amount_threshold IS NOT NULL)),
    CHECK ((rule = 'customer_velocity') = (velocity_orders_min IS NOT NULL AND velocity_window IS NOT NULL))
);

CREATE FUNCTION fraud_rules_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fraud rule versions are immutable: insert a new version instead'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER fraud_rules_immutable BEFORE UPDATE OR DELETE ON fraud_rules
    FOR EACH ROW EXECUTE FUNCTION fraud_rules_are_immutable();

INSERT INTO fraud_rules (version, rule, description, amount_threshold, velocity_orders_min, velocity_window) VALUES
    (1, 'amount_above', 'amount above 1000.00 (the original ETL rule)', 1000.00, NULL, NULL),
    (2, 'customer_velocity', 'at least 5 orders from one customer within 10 minutes', NULL, 5, interval '10 minutes');

-- Thresholds the dashboards alert on.
CREATE TABLE alert_thresholds (
    name        text    PRIMARY KEY,
    value       numeric NOT NULL,
    description text    NOT NULL
);
INSERT INTO alert_thresholds (name, value, description) VALUES
    ('fraud_rate_per_minute', 0.10, 'share of a minute''s transactions flagged by the amount rule above which the dashboard alerts');

-- Transactions the amount rule flagged, with the rule that did.
CREATE VIEW flagged_transactions AS
SELECT t.transaction_timestamp, t.order_id, t.customer_id, t.product_category, t.amount, t.currency, t.tax_amount,
       t.total_amount, t.rules_version, r.description AS rule, t.batch_id, t.ledger_id, t.lsn
FROM transactions t
JOIN fraud_rules r ON r.version = t.rules_version
WHERE t.is_fraud_flagged;

-- Per UTC minute: transactions, flagged ones, the fraud rate and whether it is above the alert threshold.
CREATE VIEW fraud_rate_per_minute AS
SELECT date_trunc('minute', t.transaction_timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS minute,
       count(*) AS transactions,
       count(*) FILTER (WHERE t.is_fraud_flagged) AS flagged,
       round(count(*) FILTER (WHERE t.is_fraud_flagged)::numeric / count(*), 4) AS fraud_rate,
       a.value AS threshold,
       count(*) FILTER (WHERE t.is_fraud_flagged)::numeric / count(*) > a.value AS above_threshold
FROM transactions t
CROSS JOIN (SELECT value FROM alert_thresholds WHERE name = 'fraud_rate_per_minute') a
GROUP BY 1, a.value;

-- Revenue, tax and fraud per UTC day, category and currency (amounts in different currencies never add up).
CREATE VIEW revenue_by_category AS
SELECT (t.transaction_timestamp AT TIME ZONE 'UTC')::date AS day,
       t.product_category,
       t.currency,
       count(*) AS transactions,
       sum(t.amount) AS revenue,
       sum(t.tax_amount) AS tax,
       sum(t.total_amount) AS total,
       count(*) FILTER (WHERE t.is_fraud_flagged) AS flagged,
       coalesce(sum(t.amount) FILTER (WHERE t.is_fraud_flagged), 0) AS flagged_amount
FROM transactions t
GROUP BY 1, 2, 3;

-- The velocity rule (newest 'customer_velocity' version): every transaction that is at least the N-th order of
-- its customer within the window ending at it. Filter on transaction_timestamp: the predicate reaches the
-- transactions scan, and each row then costs one range scan of idx_transactions_customer.
CREATE VIEW customer_velocity AS
SELECT t.transaction_timestamp, t.customer_id, t.order_id, t.amount, t.currency, t.product_category,
       w.orders_in_window, v.velocity_orders_min, v.velocity_window, v.version AS rules_version
FROM (SELECT version, velocity_orders_min, velocity_window FROM fraud_rules
      WHERE rule = 'customer_velocity' ORDER BY version DESC LIMIT 1) v
CROSS JOIN transactions t
CROSS JOIN LATERAL (
    SELECT count(*) AS orders_in_window
    FROM transactions p
    WHERE p.customer_id = t.customer_id
      AND p.transaction_timestamp > t.transaction_timestamp - v.velocity_window
      AND p.transaction_timestamp <= t.transaction_timestamp
) w
WHERE w.orders_in_window >= v.velocity_orders_min;

-- Rejected messages per UTC minute and reason, for the dashboards.
CREATE VIEW rejected_per_minute AS
SELECT date_trunc('minute', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS minute, kind, reason, count(*) AS messages
FROM rejected_messages
GROUP BY 1, 2, 3;

-- The digest `ledger-tool rebuild warehouse --verify` and the tests compare: per UTC day, count and sums.
-- processed_at is left out on purpose: it is the only column a replay or rebuild changes.
CREATE VIEW daily_digest AS
SELECT (transaction_timestamp AT TIME ZONE 'UTC')::date AS day,
       count(*) AS transactions,
       sum(amount) AS amount,
       sum(tax_amount) AS tax,
       sum(total_amount) AS total,
       count(*) FILTER (WHERE is_fraud_flagged) AS flagged
FROM transactions
GROUP BY 1;
"""#),
    ]
}
