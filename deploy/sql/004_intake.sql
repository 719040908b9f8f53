-- 004_intake: the state of the public API (shiren-intake, docs/api.md): request nonces, the
-- verifications InitFaceVerify creates, their input photos and the one-time H5 sessions.
-- Single writer: shiren-intake. Others read: upstream (verifications: CertName/CertNo for the
-- authority lookup), liveness (verifications, photos), exporter (photos).
--
-- Encryption at rest (AES-256-GCM under the master key, common/crypto.h: version byte |
-- 12-byte nonce | ciphertext | 16-byte tag). The AAD names the row and column, so a blob moved
-- elsewhere does not open:
--   verifications.cert_name_enc  'verifications:' || certify_id || ':cert_name'
--   verifications.cert_no_enc    'verifications:' || certify_id || ':cert_no'
--   verifications.pii_enc        'verifications:' || certify_id || ':pii'   (JSON object)
--   photos.data_enc              'photos:' || id
--   h5_sessions.token_enc        'h5_sessions:' || certify_id
-- Keyed hashes (HMAC-SHA256 under keys derived from the master key, so low-entropy values such
-- as ID numbers cannot be brute-forced from a dump) serve lookups and idempotency.

-- Signature nonces seen per AccessKey. A row lives until its request's timestamp has left the
-- ±15 min window (expires_at = timestamp + 15 min + 1 min slack); after that the timestamp check
-- alone refuses a replay. The primary key makes the check atomic across intake processes.
CREATE TABLE intake_nonces (
    access_key_id text        NOT NULL,
    nonce         text        NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (access_key_id, nonce),
    CONSTRAINT intake_nonces_nonce_check CHECK (octet_length(nonce) BETWEEN 1 AND 128)
);
CREATE INDEX intake_nonces_expires_idx ON intake_nonces (expires_at);

-- One verification (one CertifyId). (tenant_id, outer_order_no) is the idempotency key;
-- request_hash is the keyed fingerprint of the request's business parameters: a retry with the
-- same fingerprint gets the same CertifyId, another fingerprint is refused.
-- Result columns are copied from shiren.verify.completed.v1 by intake's consumer.
CREATE TABLE verifications (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    certify_id       text        NOT NULL,
    tenant_id        uuid        NOT NULL REFERENCES tenants (id),
    scene_id         bigint      NOT NULL REFERENCES scenes (id),
    action           text        NOT NULL,
    outer_order_no   text        NOT NULL,
    request_hash     bytea       NOT NULL,
    product_code     text        NOT NULL,
    model            text        NOT NULL,
    cert_type        text,
    cert_name_enc    bytea,
    cert_no_enc      bytea,
    cert_no_hash     bytea,                     -- HMAC-SHA256(cert-no key, CertType ':' CertNo)
    pii_enc          bytea,                     -- Mobile, Ip, UserId, MetaInfo, AuthId, ...
    options          jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- non-personal request options
    callback_url     text,
    callback_token   text,
    return_url       text,
    ref_kind         text,                      -- how the reference photo was given
    ref_photo_id     bigint,
    status           text        NOT NULL DEFAULT 'pending',
    passed           boolean,
    sub_code         integer,
    verify_score     double precision,
    liveness_score   double precision,
    quality_score    double precision,
    result_id        bigint,
    face_photo_id    bigint,
    device_token     text,
    completed_at     timestamptz,
    described_at     timestamptz,               -- first DescribeFaceVerify that saw a result
    deleted_at       timestamptz,               -- DeleteFaceVerifyResult wiped personal data
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT verifications_certify_id_key UNIQUE (certify_id),
    CONSTRAINT verifications_order_key UNIQUE (tenant_id, outer_order_no),
    CONSTRAINT verifications_certify_id_check CHECK (certify_id ~ '^[0-9a-f]{32}$'),
    CONSTRAINT verifications_outer_order_no_check
        CHECK (outer_order_no ~ '^[A-Za-z0-9_-]{1,32}$'),
    CONSTRAINT verifications_request_hash_check CHECK (octet_length(request_hash) = 32),
    CONSTRAINT verifications_status_check CHECK (status IN ('pending', 'completed')),
    CONSTRAINT verifications_ref_kind_check
        CHECK (ref_kind IS NULL OR ref_kind IN ('inline', 'url', 'certify_id')),
    CONSTRAINT verifications_result_check CHECK ((status = 'completed') = (passed IS NOT NULL))
);
CREATE INDEX verifications_tenant_created_idx ON verifications (tenant_id, created_at);
CREATE INDEX verifications_cert_no_hash_idx ON verifications (tenant_id, cert_no_hash)
    WHERE cert_no_hash IS NOT NULL;

-- Images, encrypted. 'reference' = the customer's comparison photo given to InitFaceVerify;
-- 'face' / 'frame' = captured by the H5 page; 'authority' = fetched by upstream. data_enc is
-- NULL once purged (retention) or deleted (DeleteFaceVerifyResult).
CREATE TABLE photos (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    verification_id  bigint      NOT NULL REFERENCES verifications (id),
    kind             text        NOT NULL,
    source           text        NOT NULL,
    mime             text        NOT NULL,
    width            integer     NOT NULL,
    height           integer     NOT NULL,
    size_bytes       integer     NOT NULL,
    sha256           bytea       NOT NULL,
    data_enc         bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    purged_at        timestamptz,
    CONSTRAINT photos_kind_check CHECK (kind IN ('reference', 'face', 'frame', 'authority')),
    CONSTRAINT photos_source_check CHECK (source IN ('inline', 'url', 'certify_id', 'capture',
                                                     'authority')),
    CONSTRAINT photos_mime_check CHECK (mime IN ('image/jpeg', 'image/png')),
    CONSTRAINT photos_size_check CHECK (size_bytes > 0 AND width > 0 AND height > 0),
    CONSTRAINT photos_sha256_check CHECK (octet_length(sha256) = 32),
    CONSTRAINT photos_purged_check CHECK ((data_enc IS NULL) = (purged_at IS NOT NULL))
);
CREATE INDEX photos_verification_idx ON photos (verification_id);
CREATE INDEX photos_retention_idx ON photos (created_at) WHERE data_enc IS NOT NULL;

ALTER TABLE verifications
    ADD CONSTRAINT verifications_ref_photo_fk FOREIGN KEY (ref_photo_id) REFERENCES photos (id),
    ADD CONSTRAINT verifications_face_photo_fk FOREIGN KEY (face_photo_id) REFERENCES photos (id);

-- The one-time token of a CertifyUrl (web/H5 flows), valid 30 min. Only its SHA-256 is
-- searchable; the sealed copy lets an idempotent InitFaceVerify retry return the same URL.
CREATE TABLE h5_sessions (
    certify_id   text        PRIMARY KEY REFERENCES verifications (certify_id),
    token_hash   bytea       NOT NULL,
    token_enc    bytea       NOT NULL,
    url_type     text        NOT NULL,
    url_style    text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT h5_sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT h5_sessions_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT h5_sessions_url_type_check CHECK (url_type IN ('WEB', 'H5')),
    CONSTRAINT h5_sessions_url_style_check CHECK (url_style IN ('L', 'S'))
);
