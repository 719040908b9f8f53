-- 001_core: tenants, their AccessKeys and their scenes. Owned by shirenctl (admin CLI);
-- intake reads access_keys and scenes. Applied once by `shirenctl migrate` (services/common/
-- migrate.c), inside one transaction: no BEGIN/COMMIT here.

CREATE TABLE tenants (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    status      text        NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_name_key UNIQUE (name),
    CONSTRAINT tenants_name_check CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'))
);

-- An AccessKey as the Alibaba Cloud SDKs use it. The secret is stored only sealed:
-- AES-256-GCM under the master key, AAD 'access_keys:' || access_key_id (common/crypto.h:
-- version byte | 12-byte nonce | ciphertext | 16-byte tag), so a row copied onto another key
-- id does not decrypt.
CREATE TABLE access_keys (
    access_key_id text        PRIMARY KEY,
    tenant_id     uuid        NOT NULL REFERENCES tenants (id),
    secret_enc    bytea       NOT NULL,
    status        text        NOT NULL DEFAULT 'enabled',
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    CONSTRAINT access_keys_id_check CHECK (access_key_id ~ '^LTAI[A-Za-z0-9]{20}$'),
    CONSTRAINT access_keys_status_check CHECK (status IN ('enabled', 'disabled', 'deleted')),
    CONSTRAINT access_keys_secret_check CHECK (octet_length(secret_enc) > 29),
    CONSTRAINT access_keys_disabled_check CHECK ((status = 'enabled') = (disabled_at IS NULL))
);
CREATE INDEX access_keys_tenant_idx ON access_keys (tenant_id);

-- A scene: the SceneId that API calls carry, with the product and liveness model it runs.
-- Ids start at 1000001 like the console's. Product codes and models are the API's
-- (shared cloudauth/API.md §3); a later migration extends the lists if the API grows.
CREATE TABLE scenes (
    id           bigint      GENERATED ALWAYS AS IDENTITY (START WITH 1000001) PRIMARY KEY,
    tenant_id    uuid        NOT NULL REFERENCES tenants (id),
    name         text        NOT NULL,
    product_code text        NOT NULL,
    model        text        NOT NULL,
    callback_url text,
    oss_target   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scenes_tenant_name_key UNIQUE (tenant_id, name),
    CONSTRAINT scenes_name_check CHECK (char_length(name) BETWEEN 1 AND 64),
    CONSTRAINT scenes_product_code_check CHECK (product_code IN
        ('ID_PRO', 'ID_PLUS', 'PV_FV', 'LR_FR', 'MFVC', 'ID_MIN', 'LR_FR_MIN', 'PV_FC')),
    CONSTRAINT scenes_model_check CHECK (model IN
        ('LIVENESS', 'PHOTINUS_LIVENESS', 'MULTI_ACTION', 'MOVE_ACTION', 'MOVE_PHOTINUS',
         'MULTI_FAPTCHA', 'FRONT_CAMERA_LIVENESS')),
    CONSTRAINT scenes_callback_url_check CHECK (callback_url IS NULL
        OR (callback_url ~ '^https?://[^[:space:]]+$' AND octet_length(callback_url) <= 1024)),
    CONSTRAINT scenes_oss_target_check CHECK (oss_target IS NULL
        OR oss_target ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
);
