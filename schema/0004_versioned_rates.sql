-- Pulse Ledger warehouse, migration 0004: the tax rate and the fraud threshold as versioned configuration, each
-- version in force from its effective time. The projector (and a rebuild) applies to every row the versions in
-- force at the row's transaction_timestamp, so a rebuild gives every row the rate and threshold it had.

-- Tax rates: a version never changes once written; a new rate is a new version from a later time.
CREATE TABLE tax_rates (
    version        integer      PRIMARY KEY CHECK (version > 0),
    rate           numeric(6, 5) NOT NULL CHECK (rate >= 0 AND rate < 1),
    effective_from timestamptz  NOT NULL UNIQUE DEFAULT now(),
    description    text         NOT NULL,
    created_at     timestamptz  NOT NULL DEFAULT now()
);

INSERT INTO tax_rates (version, rate, effective_from, description) VALUES
    (1, 0.08500, '-infinity', '8.5 % (the original ETL rate)');

-- Fraud rules gain the same effective time: the versions so far are in force from the beginning, a new one from
-- its insertion unless it names a later time.
ALTER TABLE fraud_rules ADD COLUMN effective_from timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE fraud_rules ALTER COLUMN effective_from SET DEFAULT now();

-- Versions are append-only: one never changes once written (UPDATE and DELETE are refused), and a new one takes
-- effect from now on, never in the past, so rows already projected keep the version they were projected with and a
-- rebuild gives them the same one. (fraud_rules already refuses UPDATE and DELETE, since migration 0003.)
CREATE FUNCTION versions_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION '% versions are immutable: insert a new version instead', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    ELSIF NEW.effective_from < now() THEN
        RAISE EXCEPTION 'a new version takes effect from now or later (effective_from %, now %)', NEW.effective_from, now()
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tax_rates_append_only BEFORE INSERT OR UPDATE OR DELETE ON tax_rates
    FOR EACH ROW EXECUTE FUNCTION versions_are_append_only();
CREATE TRIGGER fraud_rules_from_now BEFORE INSERT ON fraud_rules
    FOR EACH ROW EXECUTE FUNCTION versions_are_append_only();

-- Which tax rate version each row was computed with (rules_version names its fraud rule version).
ALTER TABLE transactions ADD COLUMN tax_rate_version integer NOT NULL DEFAULT 1;
