-- 007_metering_compact: the usage ledger in a compact row (docs/metering.md §10, NOTES §4.3 T5:
-- at most 200 bytes per event with its indexes; the text-keyed row of 003 took ~316).
--
-- A usage event's entries move to metering_usage: the key is binary (the CertifyId's 16 bytes,
-- an action code, seq), the package a number, no column is NULL (so no null bitmap) and the
-- columns are ordered so nothing is padded. The values that follow from others are not stored:
-- balance_delta (-calls for trial and package draws), day (from occurred_at_ms), late_from
-- (the event's own period when it differs from the billing period). ingest_ms and
-- balance_after are dropped for usage entries: src_partition/src_offset name the Kafka record,
-- and a package's balance after any entry is the running sum of its entries.
--
-- The other kinds (topup, expire, refund, settlement: few rows, text keys) go to
-- metering_entries, the row of 003. metering_ledger becomes a view over both with the columns
-- of 003, so the derived views, reconcile and rebuild read it unchanged.

-- Changes that would rewrite history are refused (the ledger tables and the numbering below).
CREATE FUNCTION metering_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'raise_exception';
END $$;

-- Action names of usage events, numbered. Seeded with the actions shiren bills; shiren-metering
-- registers a new name the first time an event carries it. A number, once given, is never
-- changed or taken back: ledger rows and the dedup key point at it.
CREATE TABLE metering_actions (
    code smallint PRIMARY KEY CHECK (code BETWEEN 1 AND 1000),
    name text     NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z][A-Za-z0-9]{0,63}$')
);
INSERT INTO metering_actions (code, name) VALUES
    (1, 'InitFaceVerify'), (2, 'DescribeFaceVerify'), (3, 'ContrastFaceVerify'),
    (4, 'LivenessFaceVerify'), (5, 'CompareFaceVerify'), (6, 'FaceCapture');
CREATE TRIGGER metering_actions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON metering_actions FOR EACH STATEMENT EXECUTE FUNCTION metering_refuse_change();

-- Packages get a number for usage entries to point at: assigned on insert, never changed
-- (not even to DEFAULT), and a package is never deleted.
ALTER TABLE metering_packages ADD COLUMN no integer GENERATED ALWAYS AS IDENTITY;
ALTER TABLE metering_packages ADD CONSTRAINT metering_packages_no_key UNIQUE (no);
CREATE TRIGGER metering_packages_keep BEFORE UPDATE OF no OR DELETE OR TRUNCATE
    ON metering_packages FOR EACH STATEMENT EXECUTE FUNCTION metering_refuse_change();

-- Kinds: 0 call (non-billable, counted), 1 trial, 2 package, 3 postpaid, 4 blocked. Absent
-- values: package_no 0, price_version 0, tier_first/tier_last/sub_code/src_partition/src_offset
-- -1.
CREATE TABLE metering_usage (
    certify_id     uuid     NOT NULL,
    tenant_id      uuid     NOT NULL,
    occurred_at_ms bigint   NOT NULL,
    scene_id       bigint   NOT NULL,
    amount         bigint   NOT NULL,
    src_offset     bigint   NOT NULL,
    package_no     integer  NOT NULL,
    calls          integer  NOT NULL CHECK (calls > 0),
    period         integer  NOT NULL,
    price_version  integer  NOT NULL,
    action         smallint NOT NULL,
    seq            smallint NOT NULL,
    kind           smallint NOT NULL CHECK (kind BETWEEN 0 AND 4),
    product        smallint NOT NULL,
    tier_first     smallint NOT NULL,
    tier_last      smallint NOT NULL,
    sub_code       smallint NOT NULL,
    src_partition  smallint NOT NULL,
    PRIMARY KEY (certify_id, action, seq)
);
CREATE TRIGGER metering_usage_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON metering_usage
    FOR EACH STATEMENT EXECUTE FUNCTION metering_refuse_change();

-- The other entries keep the full row of 003 (a new table: the old one's space is not kept).
CREATE TABLE metering_entries (LIKE metering_ledger INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                               PRIMARY KEY (entry_key, seq));
CREATE TRIGGER metering_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON metering_entries FOR EACH STATEMENT EXECUTE FUNCTION metering_refuse_change();

CREATE FUNCTION metering_kind_name(k smallint) RETURNS text LANGUAGE sql IMMUTABLE
PARALLEL SAFE AS $$
    SELECT (ARRAY['call', 'trial', 'package', 'postpaid', 'blocked'])[k + 1]
$$;

-- yyyymmdd of a Unix ms time in UTC+8 (no daylight saving since 1991).
CREATE FUNCTION metering_day(ms bigint) RETURNS integer LANGUAGE sql IMMUTABLE
PARALLEL SAFE AS $$
    SELECT (date_part('year', DATE '1970-01-01' + ((ms + 28800000) / 86400000)::integer) * 10000
            + date_part('month', DATE '1970-01-01' + ((ms + 28800000) / 86400000)::integer) * 100
            + date_part('day', DATE '1970-01-01' + ((ms + 28800000) / 86400000)::integer))::integer
$$;

-- Every usage entry that follows the contract (<32 hex>:<Action>) must read back exactly from
-- metering_usage; if one cannot (its package is gone, its day or period do not agree with its
-- time), nothing is migrated.
DO $$
DECLARE
    bad bigint;
    example text;
BEGIN
    SELECT count(*), min(l.entry_key) INTO bad, example
    FROM metering_ledger l
    WHERE metering_is_usage(l.kind)
      AND l.entry_key ~ '^[0-9a-fA-F]{32}:[A-Za-z][A-Za-z0-9]{0,63}$'
      AND ((l.package_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM metering_packages p WHERE p.id = l.package_id))
           OR l.day <> metering_day(l.occurred_at_ms)
           OR (l.late_from IS NULL) <> (l.period = l.day / 100)
           OR l.late_from <> l.day / 100
           OR l.calls NOT BETWEEN 1 AND 2147483647
           OR l.sub_code = -1 OR l.src_partition NOT BETWEEN 0 AND 32767);
    IF bad > 0 THEN
        RAISE EXCEPTION '007_metering_compact: % usage entries cannot be kept exactly in '
            'metering_usage (for example %); correct them and run the migration again',
            bad, example;
    END IF;
END $$;

-- The derived views of 003 depend on the old table: re-created over the view below. The old
-- table's rows are written through that view further down, then it is dropped.
DROP VIEW metering_derived_daily, metering_derived_packages, metering_derived_accounts,
          metering_derived_months;
ALTER TABLE metering_ledger RENAME TO metering_ledger_003;

CREATE VIEW metering_ledger AS
SELECT replace(u.certify_id::text, '-', '') || ':' || a.name AS entry_key,
       u.seq,
       metering_kind_name(u.kind) AS kind,
       u.tenant_id,
       u.product,
       u.scene_id,
       p.id AS package_id,
       u.calls::bigint AS calls,
       CASE WHEN u.kind IN (1, 2) THEN -u.calls ELSE 0 END::bigint AS balance_delta,
       NULL::bigint AS balance_after,
       u.amount,
       nullif(u.price_version, 0) AS price_version,
       nullif(u.tier_first, -1) AS tier_first,
       nullif(u.tier_last, -1) AS tier_last,
       u.period,
       metering_day(u.occurred_at_ms) AS day,
       CASE WHEN u.period <> metering_day(u.occurred_at_ms) / 100
            THEN metering_day(u.occurred_at_ms) / 100 END AS late_from,
       u.occurred_at_ms,
       NULL::bigint AS ingest_ms,
       nullif(u.src_partition, -1)::integer AS src_partition,
       nullif(u.src_offset, -1) AS src_offset,
       nullif(u.sub_code, -1) AS sub_code,
       NULL::text AS actor,
       NULL::text AS reason
FROM metering_usage u
LEFT JOIN metering_actions a ON a.code = u.action
LEFT JOIN metering_packages p ON p.no = nullif(u.package_no, 0)
UNION ALL
SELECT entry_key, seq, kind, tenant_id, product, scene_id, package_id, calls, balance_delta,
       balance_after, amount, price_version, tier_first, tier_last, period, day, late_from,
       occurred_at_ms, ingest_ms, src_partition, src_offset, sub_code, actor, reason
FROM metering_entries;

-- Rows written to the view go where they belong. This keeps a shiren-metering of before 007
-- working (more slowly: its dedup probe reads the view) while an upgrade replaces it, and lets
-- an operator insert a corrected entry the way 003 documented. A usage entry that follows the
-- contract and reads back exactly goes to metering_usage (its action numbered if new), any
-- other row to metering_entries.
CREATE FUNCTION metering_ledger_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_act text := split_part(NEW.entry_key, ':', 2);
    v_code smallint;
    v_pno integer := 0;
BEGIN
    IF metering_is_usage(NEW.kind)
       AND NEW.entry_key ~ '^[0-9a-fA-F]{32}:[A-Za-z][A-Za-z0-9]{0,63}$'
       AND NEW.day = metering_day(NEW.occurred_at_ms)
       AND (NEW.late_from IS NULL) = (NEW.period = NEW.day / 100)
       AND coalesce(NEW.late_from = NEW.day / 100, true)
       AND NEW.calls BETWEEN 1 AND 2147483647
       AND coalesce(NEW.sub_code <> -1, true)
       AND coalesce(NEW.src_partition BETWEEN 0 AND 32767, true) THEN
        IF NEW.package_id IS NOT NULL THEN
            SELECT p.no INTO v_pno FROM metering_packages p WHERE p.id = NEW.package_id;
        END IF;
        IF v_pno IS NOT NULL THEN
            SELECT a.code INTO v_code FROM metering_actions a WHERE a.name = v_act;
            IF v_code IS NULL THEN
                PERFORM pg_advisory_xact_lock(hashtext('metering_actions'));
                SELECT a.code INTO v_code FROM metering_actions a WHERE a.name = v_act;
            END IF;
            IF v_code IS NULL THEN
                INSERT INTO metering_actions (code, name)
                SELECT max(a.code) + 1, v_act FROM metering_actions a
                HAVING max(a.code) < 1000
                RETURNING metering_actions.code INTO v_code;
            END IF;
        END IF;
        -- A key taken already (the same call in another letter case, which a binary of
        -- before 007 did not recognise) or no number left: the row keeps its text key.
        IF v_pno IS NOT NULL AND v_code IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM metering_usage u
               WHERE u.certify_id = split_part(NEW.entry_key, ':', 1)::uuid
                 AND u.action = v_code AND u.seq = NEW.seq) THEN
            INSERT INTO metering_usage (certify_id, tenant_id, occurred_at_ms, scene_id, amount,
                                        src_offset, package_no, calls, period, price_version,
                                        action, seq, kind, product, tier_first, tier_last,
                                        sub_code, src_partition)
            VALUES (split_part(NEW.entry_key, ':', 1)::uuid, NEW.tenant_id, NEW.occurred_at_ms,
                    coalesce(NEW.scene_id, 0), coalesce(NEW.amount, 0),
                    coalesce(NEW.src_offset, -1), v_pno, NEW.calls,
                    NEW.period, coalesce(NEW.price_version, 0), v_code, NEW.seq,
                    array_position(ARRAY['call', 'trial', 'package', 'postpaid', 'blocked'],
                                   NEW.kind) - 1,
                    NEW.product, coalesce(NEW.tier_first, -1), coalesce(NEW.tier_last, -1),
                    coalesce(NEW.sub_code, -1), coalesce(NEW.src_partition, -1));
            RETURN NEW;
        END IF;
    END IF;
    INSERT INTO metering_entries (entry_key, seq, kind, tenant_id, product, scene_id, package_id,
                                  calls, balance_delta, balance_after, amount, price_version,
                                  tier_first, tier_last, period, day, late_from, occurred_at_ms,
                                  ingest_ms, src_partition, src_offset, sub_code, actor, reason)
    VALUES (NEW.entry_key, NEW.seq, NEW.kind, NEW.tenant_id, NEW.product,
            coalesce(NEW.scene_id, 0), NEW.package_id, NEW.calls, coalesce(NEW.balance_delta, 0),
            NEW.balance_after, coalesce(NEW.amount, 0), NEW.price_version, NEW.tier_first,
            NEW.tier_last, NEW.period, NEW.day, NEW.late_from, NEW.occurred_at_ms, NEW.ingest_ms,
            NEW.src_partition, NEW.src_offset, NEW.sub_code, NEW.actor, NEW.reason);
    RETURN NEW;
END $$;
CREATE TRIGGER metering_ledger_insert INSTEAD OF INSERT ON metering_ledger
    FOR EACH ROW EXECUTE FUNCTION metering_ledger_insert();

-- The existing entries, written the way a binary of before 007 writes them (the trigger above
-- sorts them). The old decoder kept ids as sent, so one call may be there twice, its CertifyId
-- in two cases (and billed twice): the first spelling in byte order moves to metering_usage (a
-- redelivery is then a duplicate of it), the other keeps its text key in metering_entries.
INSERT INTO metering_ledger
SELECT * FROM metering_ledger_003 ORDER BY lower(entry_key), seq, entry_key COLLATE "C";
DROP TABLE metering_ledger_003;

CREATE VIEW metering_derived_daily AS
SELECT tenant_id, product, scene_id, day,
       sum(calls)::bigint AS calls,
       coalesce(sum(calls) FILTER (WHERE kind <> 'call'), 0)::bigint AS billable,
       coalesce(sum(calls) FILTER (WHERE kind = 'trial'), 0)::bigint AS trial,
       coalesce(sum(calls) FILTER (WHERE kind = 'package'), 0)::bigint AS package,
       coalesce(sum(calls) FILTER (WHERE kind = 'postpaid'), 0)::bigint AS postpaid,
       coalesce(sum(calls) FILTER (WHERE kind = 'blocked'), 0)::bigint AS blocked,
       coalesce(sum(amount) FILTER (WHERE kind = 'postpaid'), 0)::bigint AS amount,
       coalesce(sum(amount) FILTER (WHERE kind = 'package'), 0)::bigint AS package_value,
       coalesce(sum(calls) FILTER (WHERE late_from IS NOT NULL), 0)::bigint AS late
FROM metering_ledger
WHERE metering_is_usage(kind)
GROUP BY tenant_id, product, scene_id, day;

CREATE VIEW metering_derived_packages AS
SELECT package_id AS id,
       sum(balance_delta)::bigint AS remaining,
       CASE WHEN bool_or(kind = 'refund') THEN 'refunded'
            WHEN bool_or(kind = 'expire') THEN 'expired' ELSE 'active' END AS status
FROM metering_ledger
WHERE kind IN ('topup', 'package', 'expire', 'refund')
GROUP BY package_id;

CREATE VIEW metering_derived_accounts AS
SELECT a.tenant_id, a.product,
       coalesce((SELECT sum(l.calls) FROM metering_ledger l
                 WHERE l.kind = 'trial' AND l.tenant_id = a.tenant_id
                   AND l.product = a.product), 0)::bigint AS trial_used
FROM metering_accounts a;

CREATE VIEW metering_derived_months AS
SELECT tenant_id, product, period,
       coalesce(sum(calls) FILTER (WHERE kind = 'postpaid'), 0)::bigint AS postpaid_calls,
       coalesce(sum(amount) FILTER (WHERE kind = 'postpaid'), 0)::bigint AS postpaid_charged,
       coalesce(sum(calls) FILTER (WHERE kind = 'blocked'), 0)::bigint AS blocked_calls
FROM metering_ledger
WHERE kind IN ('postpaid', 'blocked')
GROUP BY tenant_id, product, period;
