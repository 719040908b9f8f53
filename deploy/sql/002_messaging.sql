-- Transactional outbox and idempotent-consumer inbox (DESIGN §5).

-- Messages written in the same transaction as the state change that caused them. Each service
-- writes only rows with its own `source`; that service's relay publishes them in id order and
-- deletes them once Kafka acknowledged (acks=all, idempotent producer).
CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,
    source      text        NOT NULL,          -- producing service, e.g. 'shiren-intake'
    topic       text        NOT NULL,
    msg_key     bytea,                         -- Kafka key (NULL = none)
    payload     bytea       NOT NULL,          -- protobuf message, envelope in field 1
    message_id  text        NOT NULL,          -- envelope message_id, for tracing
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_source_id ON outbox (source, id);

-- Message ids a consumer group has applied (status 0) or dead-lettered (status 1), written in
-- the same transaction as the effect. A redelivered message finds its row and is skipped.
CREATE TABLE inbox (
    consumer    text        NOT NULL,          -- consumer group
    message_id  text        NOT NULL,
    status      smallint    NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_applied_at ON inbox (applied_at);
