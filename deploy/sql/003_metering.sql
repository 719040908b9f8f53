-- 003_metering: usage metering, prepaid packages, ladder prices, quota alerts (docs/metering.md).
-- Single writer: shiren-metering writes every table here except metering_ladders and
-- metering_commands, which shirenctl inserts into (the service applies the commands). Intake
-- reads metering_blocked. Money is bigint in 1e-5 CNY; times are Unix ms (UTC) unless named
-- *_at; periods are yyyymm and days yyyymmdd in UTC+8. Products are shiren.v1.Product values.

-- Service-wide state: the newest billing period closed (settled); 0 for none.
CREATE TABLE metering_state (
    id             smallint PRIMARY KEY CHECK (id = 1),
    closed_through int      NOT NULL DEFAULT 0
);
INSERT INTO metering_state (id, closed_through) VALUES (1, 0);

-- Versioned postpaid ladders per product. Immutable once published; a month is priced by the
-- version in force at its start (metering_ladder_select). upto[i] is the inclusive upper bound
-- of tier i in calls per month; the last is 9223372036854775807 (unbounded).
CREATE TABLE metering_ladders (
    product           smallint    NOT NULL CHECK (product > 0),
    version           int         NOT NULL CHECK (version >= 1),
    mode              text        NOT NULL CHECK (mode IN ('volume', 'graduated')),
    effective_from_ms bigint      NOT NULL CHECK (effective_from_ms >= 0),
    upto              bigint[]    NOT NULL,
    unit_price        bigint[]    NOT NULL,
    actor             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product, version),
    CHECK (cardinality(upto) BETWEEN 1 AND 16 AND cardinality(upto) = cardinality(unit_price))
);
-- Defaults until an operator publishes real prices (shirenctl metering ladder publish):
-- whole-volume, 0.040 / 0.035 / 0.030 / 0.026 元 per call up to 100k / 5M / 10M / above.
INSERT INTO metering_ladders (product, version, mode, effective_from_ms, upto, unit_price, actor)
SELECT p, 1, 'volume', 0, '{100000,5000000,10000000,9223372036854775807}',
       '{4000,3500,3000,2600}', 'migration 003'
FROM generate_series(1, 4) AS p;

-- One tenant x product. The row's primary key is what makes the free trial once-only: it is
-- created with trial_limit calls and trial_used only grows. Alert settings NULL = service
-- defaults. status is the balance status after the last change (cache). last_partition is the
-- usage partition the tenant's events arrive on (the balance's as_of watermark); last_offset
-- and last_event_ms are those of the last event that changed this row.
CREATE TABLE metering_accounts (
    tenant_id            uuid        NOT NULL REFERENCES tenants (id),
    product              smallint    NOT NULL CHECK (product > 0),
    on_exhaust           text        NOT NULL DEFAULT 'postpaid'
                                     CHECK (on_exhaust IN ('postpaid', 'block')),
    trial_limit          bigint      NOT NULL CHECK (trial_limit >= 0),
    trial_used           bigint      NOT NULL DEFAULT 0,
    status               text        NOT NULL DEFAULT 'prepaid'
                                     CHECK (status IN ('prepaid', 'postpaid', 'blocked')),
    alert_percent        bigint[],
    alert_calls          bigint[],
    alert_expiry_days    bigint[],
    alert_hysteresis_pct bigint,
    last_partition       int,
    last_offset          bigint,
    last_event_ms        bigint,
    last_applied_at      timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product),
    CHECK (trial_used BETWEEN 0 AND trial_limit)
);

-- Prepaid packages. remaining and status are a cache of the ledger (topup +size, package
-- -calls, expire -remainder, refund -size): `shirenctl metering rebuild` re-derives them.
CREATE TABLE metering_packages (
    id              text        PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 63),
    tenant_id       uuid        NOT NULL,
    product         smallint    NOT NULL,
    status          text        NOT NULL DEFAULT 'active'
                                CHECK (status IN ('active', 'expired', 'refunded')),
    size            bigint      NOT NULL CHECK (size >= 0),
    remaining       bigint      NOT NULL,
    unit_price      bigint      NOT NULL CHECK (unit_price >= 0),
    price_total     bigint      NOT NULL CHECK (price_total >= 0),
    purchased_at_ms bigint      NOT NULL,
    expires_at_ms   bigint      NOT NULL,
    actor           text,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, product) REFERENCES metering_accounts (tenant_id, product),
    CHECK (remaining BETWEEN 0 AND size),
    CHECK (expires_at_ms > purchased_at_ms)
);
CREATE INDEX metering_packages_account ON metering_packages (tenant_id, product)
    WHERE status = 'active';
CREATE INDEX metering_packages_expiry ON metering_packages (expires_at_ms)
    WHERE status = 'active';

-- The append-only ledger. entry_key + seq is the identity: a usage event's entries use its
-- event_id (CertifyId:Action) with seq 0.. (trial, packages in consumption order, then
-- postpaid/blocked; a non-billable call is one 'call' row), so the key doubles as the dedup
-- key; other kinds use 'topup:<pkg>', 'expire:<pkg>', 'refund:<pkg>' and
-- 'settlement:<tenant>:<product>:<yyyymm>'. UPDATE and DELETE are refused by a trigger.
CREATE TABLE metering_ledger (
    entry_key      text     NOT NULL,
    seq            smallint NOT NULL,
    kind           text     NOT NULL CHECK (kind IN ('call', 'trial', 'package', 'postpaid',
                            'blocked', 'topup', 'expire', 'refund', 'settlement')),
    tenant_id      uuid     NOT NULL,
    product        smallint NOT NULL,
    scene_id       bigint   NOT NULL DEFAULT 0,
    package_id     text,
    calls          bigint   NOT NULL,
    balance_delta  bigint   NOT NULL DEFAULT 0,
    balance_after  bigint,
    amount         bigint   NOT NULL DEFAULT 0,
    price_version  int,
    tier_first     smallint,
    tier_last      smallint,
    period         int      NOT NULL,
    day            int      NOT NULL,
    late_from      int,
    occurred_at_ms bigint   NOT NULL,
    ingest_ms      bigint,
    src_partition  int,
    src_offset     bigint,
    sub_code       smallint,
    actor          text,
    reason         text,
    PRIMARY KEY (entry_key, seq)
);

CREATE FUNCTION metering_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'metering_ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'raise_exception';
END $$;
CREATE TRIGGER metering_ledger_append_only BEFORE UPDATE OR DELETE ON metering_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION metering_ledger_append_only();

-- Postpaid counters per tenant x product x billing period (what the ladder prices).
CREATE TABLE metering_months (
    tenant_id        uuid     NOT NULL,
    product          smallint NOT NULL,
    period           int      NOT NULL,
    postpaid_calls   bigint   NOT NULL DEFAULT 0,
    postpaid_charged bigint   NOT NULL DEFAULT 0,
    blocked_calls    bigint   NOT NULL DEFAULT 0,
    settled          boolean  NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, product, period)
);

-- Month-end bill lines, one per tenant x product x closed period.
CREATE TABLE metering_bill_lines (
    tenant_id     uuid        NOT NULL,
    product       smallint    NOT NULL,
    period        int         NOT NULL,
    mode          text        NOT NULL,
    price_version int         NOT NULL,
    calls         bigint      NOT NULL,
    charged       bigint      NOT NULL,
    settlement    bigint      NOT NULL,
    exact         bigint      NOT NULL,
    billed        bigint      NOT NULL,
    residue       bigint      NOT NULL,
    closed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product, period)
);

-- Daily rollup per tenant x product x scene x UTC+8 day of the event time. Everything but
-- duplicates is a cache of the ledger; duplicates are counted only here.
CREATE TABLE metering_daily (
    tenant_id     uuid     NOT NULL,
    product       smallint NOT NULL,
    scene_id      bigint   NOT NULL,
    day           int      NOT NULL,
    calls         bigint   NOT NULL DEFAULT 0, -- every call seen (billable or not)
    billable      bigint   NOT NULL DEFAULT 0,
    duplicates    bigint   NOT NULL DEFAULT 0, -- redelivered event ids, not billed
    trial         bigint   NOT NULL DEFAULT 0,
    package       bigint   NOT NULL DEFAULT 0,
    postpaid      bigint   NOT NULL DEFAULT 0,
    blocked       bigint   NOT NULL DEFAULT 0,
    amount        bigint   NOT NULL DEFAULT 0, -- postpaid charges (provisional in volume mode)
    package_value bigint   NOT NULL DEFAULT 0, -- prepaid value recognised
    late          bigint   NOT NULL DEFAULT 0, -- calls billed into a later period
    PRIMARY KEY (tenant_id, product, scene_id, day)
);

-- Alert rule states (armed/fired, generation) and the alerts emitted.
CREATE TABLE metering_alert_state (
    tenant_id  uuid     NOT NULL,
    product    smallint NOT NULL,
    kind       smallint NOT NULL,
    threshold  bigint   NOT NULL,
    package_id text     NOT NULL DEFAULT '',
    fired      boolean  NOT NULL,
    generation bigint   NOT NULL,
    PRIMARY KEY (tenant_id, product, kind, threshold, package_id)
);
CREATE TABLE metering_alerts (
    alert_id       uuid        PRIMARY KEY,
    tenant_id      uuid        NOT NULL,
    product        smallint    NOT NULL,
    kind           text        NOT NULL,
    threshold      bigint      NOT NULL,
    remaining      bigint      NOT NULL,
    total          bigint      NOT NULL,
    status         text        NOT NULL,
    package_id     text        NOT NULL DEFAULT '',
    generation     bigint      NOT NULL,
    occurred_at_ms bigint      NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Consumed Kafka offsets, written in the apply transaction: the consumer seeks here on
-- assignment. consumed = applied + duplicates + non_billable + rejected, and
-- next_offset - base_offset = consumed + skipped (offsets Kafka no longer had).
CREATE TABLE metering_offsets (
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    base_offset    bigint      NOT NULL,
    next_offset    bigint      NOT NULL,
    consumed       bigint      NOT NULL DEFAULT 0,
    applied        bigint      NOT NULL DEFAULT 0,
    duplicates     bigint      NOT NULL DEFAULT 0,
    non_billable   bigint      NOT NULL DEFAULT 0,
    rejected       bigint      NOT NULL DEFAULT 0,
    skipped        bigint      NOT NULL DEFAULT 0,
    last_event_ms  bigint,
    last_ingest_ms bigint,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Messages rejected into the dead-letter topic (the DLQ record goes out through the outbox
-- in the same transaction).
CREATE TABLE metering_rejects (
    topic      text        NOT NULL,
    partition  int         NOT NULL,
    "offset"   bigint      NOT NULL,
    reason     text        NOT NULL,
    detail     text        NOT NULL,
    event_id   text,
    tenant     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);

-- Tenant x product currently refused by the gateway: on_exhaust = 'block' and no prepaid call
-- left. Maintained by shiren-metering in the same transaction as the balance change; intake
-- reads it (SELECT 1 FROM metering_blocked WHERE tenant_id = $1 AND product = $2).
CREATE TABLE metering_blocked (
    tenant_id uuid        NOT NULL,
    product   smallint    NOT NULL,
    since     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product)
);

-- Admin commands (top-up, refund, settings) queued by shirenctl and applied by shiren-metering
-- in its own transactions, so every balance change has one writer and is alert-evaluated.
CREATE TABLE metering_commands (
    id                   bigserial   PRIMARY KEY,
    kind                 text        NOT NULL CHECK (kind IN ('topup', 'refund', 'set')),
    tenant_id            uuid        NOT NULL REFERENCES tenants (id),
    product              smallint    NOT NULL CHECK (product > 0),
    package_id           text,
    size                 bigint,
    unit_price           bigint,
    price_total          bigint,
    purchased_at_ms      bigint,
    expires_at_ms        bigint,
    on_exhaust           text CHECK (on_exhaust IN ('postpaid', 'block')),
    alert_percent        bigint[],
    alert_calls          bigint[],
    alert_expiry_days    bigint[],
    alert_hysteresis_pct bigint,
    alert_reset          boolean     NOT NULL DEFAULT false,
    actor                text,
    reason               text,
    status               text        NOT NULL DEFAULT 'pending'
                                     CHECK (status IN ('pending', 'done', 'failed')),
    error                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    applied_at           timestamptz
);
CREATE INDEX metering_commands_pending ON metering_commands (id) WHERE status = 'pending';

-- The balance of one tenant (all products, or one) as JSON, with the as_of watermark: the
-- last event applied to each account (partition, offset, event time) and the consumer's
-- position per partition. Shared by the admin HTTP route and shirenctl.
CREATE FUNCTION metering_balance(p_tenant uuid, p_product smallint, p_now_ms bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
WITH acct AS (
    SELECT a.*, coalesce(pk.live_remaining, 0) AS live_remaining,
           coalesce(pk.live_size, 0) AS live_size, coalesce(pk.list, '[]'::jsonb) AS packages
    FROM metering_accounts a
    LEFT JOIN LATERAL (
        SELECT sum(p.remaining) FILTER (WHERE live) AS live_remaining,
               sum(p.size) FILTER (WHERE live) AS live_size,
               jsonb_agg(jsonb_build_object(
                   'id', p.id, 'status', p.status, 'live', live, 'size', p.size,
                   'remaining', p.remaining, 'unit_price', p.unit_price,
                   'price_total', p.price_total, 'purchased_at_ms', p.purchased_at_ms,
                   'expires_at_ms', p.expires_at_ms)
                   ORDER BY p.expires_at_ms, p.purchased_at_ms, p.id) AS list
        FROM (SELECT *, status = 'active' AND purchased_at_ms <= p_now_ms
                        AND p_now_ms < expires_at_ms AS live
              FROM metering_packages
              WHERE tenant_id = a.tenant_id AND product = a.product) p
    ) pk ON true
    WHERE a.tenant_id = p_tenant AND (p_product IS NULL OR a.product = p_product)
), bal AS (
    SELECT acct.*, trial_limit - trial_used + live_remaining AS remaining,
           CASE WHEN trial_used < trial_limit THEN trial_limit ELSE 0 END + live_size AS total
    FROM acct
)
SELECT jsonb_build_object(
    'tenant_id', p_tenant,
    'now_ms', p_now_ms,
    'products', coalesce((SELECT jsonb_agg(jsonb_build_object(
        'product', product,
        'on_exhaust', on_exhaust,
        'remaining', remaining,
        'total', total,
        'status', CASE WHEN remaining > 0 THEN 'prepaid'
                       WHEN on_exhaust = 'block' THEN 'blocked' ELSE 'postpaid' END,
        'blocked_since', (SELECT since FROM metering_blocked b
                          WHERE b.tenant_id = bal.tenant_id AND b.product = bal.product),
        'trial', jsonb_build_object('limit', trial_limit, 'used', trial_used,
                                    'remaining', trial_limit - trial_used),
        'packages', packages,
        -- Every event of this tenant is keyed to one partition: the balance includes all of
        -- that partition up to the stored offset (applied in the same transaction).
        'as_of', (SELECT jsonb_build_object('partition', o.partition,
                                            'offset', o.next_offset - 1,
                                            'event_ms', o.last_event_ms,
                                            'ingest_ms', o.last_ingest_ms,
                                            'applied_at', o.updated_at)
                  FROM metering_offsets o WHERE o.partition = bal.last_partition
                  ORDER BY o.updated_at DESC LIMIT 1))
        ORDER BY product) FROM bal), '[]'::jsonb),
    'watermark', coalesce((SELECT jsonb_agg(jsonb_build_object(
        'topic', topic, 'partition', partition, 'last_offset', next_offset - 1,
        'last_event_ms', last_event_ms, 'last_ingest_ms', last_ingest_ms,
        'updated_at', updated_at) ORDER BY topic, partition)
        FROM metering_offsets), '[]'::jsonb))
$$;

-- Usage kinds of the ledger, i.e. the rows a usage event produces.
CREATE FUNCTION metering_is_usage(kind text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT kind IN ('call', 'trial', 'package', 'postpaid', 'blocked')
$$;

-- What the caches must be, derived from the ledger alone.
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

-- Every cache that differs from the ledger, one row per field: the caches are re-derivable
-- when this returns nothing.
CREATE FUNCTION metering_cache_diff()
RETURNS TABLE (what text, subject text, field text, cached bigint, derived bigint)
LANGUAGE sql STABLE AS $$
WITH d AS (
    SELECT concat_ws(':', coalesce(c.tenant_id, x.tenant_id), coalesce(c.product, x.product),
                     coalesce(c.scene_id, x.scene_id), coalesce(c.day, x.day)) AS subject,
           ARRAY[c.calls, c.billable, c.trial, c.package, c.postpaid, c.blocked, c.amount,
                 c.package_value, c.late] AS cv,
           ARRAY[x.calls, x.billable, x.trial, x.package, x.postpaid, x.blocked, x.amount,
                 x.package_value, x.late] AS xv
    FROM metering_daily c
    FULL JOIN metering_derived_daily x USING (tenant_id, product, scene_id, day)
)
SELECT 'daily', d.subject, f.name, coalesce(d.cv[f.i], 0), coalesce(d.xv[f.i], 0)
FROM d, unnest(ARRAY['calls', 'billable', 'trial', 'package', 'postpaid', 'blocked', 'amount',
                     'package_value', 'late']) WITH ORDINALITY AS f(name, i)
WHERE coalesce(d.cv[f.i], 0) <> coalesce(d.xv[f.i], 0)
UNION ALL
SELECT 'package', p.id, 'remaining', p.remaining, x.remaining
FROM metering_packages p LEFT JOIN metering_derived_packages x USING (id)
WHERE p.remaining IS DISTINCT FROM x.remaining
UNION ALL
SELECT 'package', p.id, 'status', array_position(ARRAY['active', 'expired', 'refunded'],
       p.status), array_position(ARRAY['active', 'expired', 'refunded'], x.status)
FROM metering_packages p LEFT JOIN metering_derived_packages x USING (id)
WHERE p.status IS DISTINCT FROM x.status
UNION ALL
SELECT 'package', x.id, 'missing', NULL, x.remaining
FROM metering_derived_packages x LEFT JOIN metering_packages p USING (id)
WHERE p.id IS NULL
UNION ALL
SELECT 'account', a.tenant_id || ':' || a.product, 'trial_used', a.trial_used, x.trial_used
FROM metering_accounts a JOIN metering_derived_accounts x USING (tenant_id, product)
WHERE a.trial_used <> x.trial_used
UNION ALL
SELECT 'month', concat_ws(':', coalesce(m.tenant_id, x.tenant_id),
                          coalesce(m.product, x.product), coalesce(m.period, x.period)),
       f.name, coalesce(f.c, 0), coalesce(f.x, 0)
FROM metering_months m
FULL JOIN metering_derived_months x USING (tenant_id, product, period),
LATERAL (VALUES ('postpaid_calls', m.postpaid_calls, x.postpaid_calls),
                ('postpaid_charged', m.postpaid_charged, x.postpaid_charged),
                ('blocked_calls', m.blocked_calls, x.blocked_calls)) AS f(name, c, x)
WHERE coalesce(f.c, 0) <> coalesce(f.x, 0)
$$;

-- Overwrite every cache with what the ledger says (duplicates in metering_daily are kept:
-- they are not in the ledger). Takes locks that pause shiren-metering's apply for the
-- duration. Returns the number of cache rows changed.
CREATE FUNCTION metering_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    k bigint;
BEGIN
    LOCK TABLE metering_accounts, metering_packages, metering_months, metering_daily
        IN SHARE ROW EXCLUSIVE MODE;
    UPDATE metering_packages p SET remaining = x.remaining, status = x.status
    FROM metering_derived_packages x
    WHERE x.id = p.id AND (p.remaining, p.status) IS DISTINCT FROM (x.remaining, x.status);
    GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
    UPDATE metering_accounts a SET trial_used = x.trial_used
    FROM metering_derived_accounts x
    WHERE x.tenant_id = a.tenant_id AND x.product = a.product AND a.trial_used <> x.trial_used;
    GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
    INSERT INTO metering_months AS m (tenant_id, product, period, postpaid_calls,
                                      postpaid_charged, blocked_calls)
    SELECT x.tenant_id, x.product, x.period, x.postpaid_calls, x.postpaid_charged,
           x.blocked_calls
    FROM metering_derived_months x
    ON CONFLICT (tenant_id, product, period) DO UPDATE
        SET postpaid_calls = EXCLUDED.postpaid_calls,
            postpaid_charged = EXCLUDED.postpaid_charged,
            blocked_calls = EXCLUDED.blocked_calls
        WHERE (m.postpaid_calls, m.postpaid_charged, m.blocked_calls) IS DISTINCT FROM
              (EXCLUDED.postpaid_calls, EXCLUDED.postpaid_charged, EXCLUDED.blocked_calls);
    GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
    UPDATE metering_months m SET postpaid_calls = 0, postpaid_charged = 0, blocked_calls = 0
    WHERE NOT EXISTS (SELECT 1 FROM metering_derived_months x WHERE x.tenant_id = m.tenant_id
                      AND x.product = m.product AND x.period = m.period)
      AND (m.postpaid_calls, m.postpaid_charged, m.blocked_calls) <> (0, 0, 0);
    GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
    INSERT INTO metering_daily AS c (tenant_id, product, scene_id, day, calls, billable, trial,
                                     package, postpaid, blocked, amount, package_value, late)
    SELECT x.tenant_id, x.product, x.scene_id, x.day, x.calls, x.billable, x.trial, x.package,
           x.postpaid, x.blocked, x.amount, x.package_value, x.late
    FROM metering_derived_daily x
    ON CONFLICT (tenant_id, product, scene_id, day) DO UPDATE
        SET calls = EXCLUDED.calls, billable = EXCLUDED.billable, trial = EXCLUDED.trial,
            package = EXCLUDED.package, postpaid = EXCLUDED.postpaid,
            blocked = EXCLUDED.blocked, amount = EXCLUDED.amount,
            package_value = EXCLUDED.package_value, late = EXCLUDED.late
        WHERE (c.calls, c.billable, c.trial, c.package, c.postpaid, c.blocked, c.amount,
               c.package_value, c.late) IS DISTINCT FROM
              (EXCLUDED.calls, EXCLUDED.billable, EXCLUDED.trial, EXCLUDED.package,
               EXCLUDED.postpaid, EXCLUDED.blocked, EXCLUDED.amount, EXCLUDED.package_value,
               EXCLUDED.late);
    GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
    UPDATE metering_daily c SET calls = 0, billable = 0, trial = 0, package = 0, postpaid = 0,
                                blocked = 0, amount = 0, package_value = 0, late = 0
    WHERE NOT EXISTS (SELECT 1 FROM metering_derived_daily x WHERE x.tenant_id = c.tenant_id
                      AND x.product = c.product AND x.scene_id = c.scene_id AND x.day = c.day)
      AND (c.calls, c.billable, c.trial, c.package, c.postpaid, c.blocked, c.amount,
           c.package_value, c.late) <> (0, 0, 0, 0, 0, 0, 0, 0, 0);
    GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
    RETURN n;
END $$;

-- The reconciliation invariants (docs/metering.md §10): one row per check with the values
-- compared; ok = false on any mismatch.
CREATE FUNCTION metering_reconcile()
RETURNS TABLE (check_name text, subject text, expected bigint, actual bigint, ok boolean)
LANGUAGE sql STABLE AS $$
WITH tot AS (
    SELECT coalesce(sum(billable), 0)::bigint AS billable,
           coalesce(sum(trial), 0)::bigint AS trial,
           coalesce(sum(package), 0)::bigint AS package,
           coalesce(sum(postpaid), 0)::bigint AS postpaid,
           coalesce(sum(blocked), 0)::bigint AS blocked,
           coalesce(sum(duplicates), 0)::bigint AS duplicates
    FROM metering_daily
), led AS (
    SELECT count(*) FILTER (WHERE seq = 0 AND metering_is_usage(kind) AND kind <> 'call')
               AS applied,
           count(*) FILTER (WHERE kind = 'call') AS non_billable,
           coalesce(sum(calls) FILTER (WHERE metering_is_usage(kind) AND kind <> 'call'), 0)
               ::bigint AS billable,
           coalesce(sum(calls) FILTER (WHERE kind IN ('expire', 'refund')), 0)::bigint
               AS released
    FROM metering_ledger
), pk AS (
    SELECT coalesce(sum(size - remaining), 0)::bigint AS drawn FROM metering_packages
), off AS (
    SELECT coalesce(sum(consumed), 0)::bigint AS consumed,
           coalesce(sum(applied), 0)::bigint AS applied,
           coalesce(sum(duplicates), 0)::bigint AS duplicates,
           coalesce(sum(non_billable), 0)::bigint AS non_billable,
           coalesce(sum(rejected), 0)::bigint AS rejected,
           coalesce(sum(skipped), 0)::bigint AS skipped
    FROM metering_offsets
), checks AS (
    SELECT 'caches_match_ledger' AS c, '' AS s, 0::bigint AS e,
           (SELECT count(*) FROM metering_cache_diff())::bigint AS a
    UNION ALL SELECT 'ledger_billable_eq_rollups', '', led.billable, tot.billable FROM led, tot
    UNION ALL SELECT 'rollups_eq_trial_package_postpaid_blocked', '', tot.billable,
                     tot.trial + tot.package + tot.postpaid + tot.blocked FROM tot
    UNION ALL SELECT 'package_deltas_eq_rollup_package', '', tot.package, pk.drawn - led.released
        FROM tot, pk, led
    UNION ALL SELECT 'trial_eq_accounts', '', tot.trial,
                     (SELECT coalesce(sum(trial_used), 0)::bigint FROM metering_accounts)
        FROM tot
    UNION ALL SELECT 'months_eq_rollup_postpaid', '', tot.postpaid,
                     (SELECT coalesce(sum(postpaid_calls), 0)::bigint FROM metering_months)
        FROM tot
    UNION ALL SELECT 'offsets_consumed_eq_outcomes', o.topic || ':' || o.partition, o.consumed,
                     o.applied + o.duplicates + o.non_billable + o.rejected
        FROM metering_offsets o
    UNION ALL SELECT 'offsets_gap_free', o.topic || ':' || o.partition,
                     o.next_offset - o.base_offset, o.consumed
        FROM metering_offsets o
    UNION ALL SELECT 'offsets_applied_eq_ledger_events', '', off.applied, led.applied
        FROM off, led
    UNION ALL SELECT 'offsets_non_billable_eq_ledger_calls', '', off.non_billable,
                     led.non_billable FROM off, led
    UNION ALL SELECT 'offsets_duplicates_eq_rollups', '', off.duplicates, tot.duplicates
        FROM off, tot
    UNION ALL SELECT 'offsets_rejected_eq_rejects', '', off.rejected,
                     (SELECT count(*) FROM metering_rejects)::bigint FROM off
    UNION ALL SELECT 'blocked_eq_account_status', '',
                     (SELECT count(*) FROM metering_accounts WHERE status = 'blocked')::bigint,
                     (SELECT count(*) FROM metering_blocked b JOIN metering_accounts a
                      USING (tenant_id, product) WHERE a.status = 'blocked')::bigint
                     + (SELECT count(*) FROM metering_blocked b WHERE NOT EXISTS (
                        SELECT 1 FROM metering_accounts a WHERE a.tenant_id = b.tenant_id
                        AND a.product = b.product AND a.status = 'blocked'))::bigint * 1000000
)
SELECT c, s, e, a, e = a FROM checks
$$;
