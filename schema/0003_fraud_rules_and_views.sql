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
