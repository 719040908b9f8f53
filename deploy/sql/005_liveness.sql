-- 005_liveness: the state of shiren-liveness (docs/liveness.md, "The service"): the durable
-- queue of liveness jobs and their results. Single writer: shiren-liveness. Others read:
-- intake (liveness_results, to answer a retried or timed-out synchronous call; results reach
-- it through shiren.verify.completed.v1).
--
-- A job arrives on shiren.liveness.jobs.v1; the inbox consumer inserts it here (with its inbox
-- row, one transaction) and NOTIFYs the workers. A worker owns a job through a session-level
-- advisory lock (released by PostgreSQL if the process dies), runs the pipeline with no
-- transaction open, then in one transaction marks the job done, inserts the result and
-- enqueues its VerifyCompleted and UsageEvent in the outbox. (certify_id, action) is unique in
-- both tables: one result, one completion and one usage event per verification and action,
-- however often the job is delivered, claimed or retried.

CREATE TABLE liveness_jobs (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    certify_id    text        NOT NULL,
    action        text        NOT NULL,
    tenant_id     uuid        NOT NULL,
    message_id    text        NOT NULL,          -- envelope id of the LivenessJob
    trace_id      text        NOT NULL DEFAULT '',
    synchronous   boolean     NOT NULL,          -- an API call waits on the result
    deadline_ms   bigint      NOT NULL,          -- Unix ms; past it the job ends as a timeout
    payload       bytea       NOT NULL,          -- the LivenessJob (references, never images)
    state         text        NOT NULL DEFAULT 'queued',
    attempts      integer     NOT NULL DEFAULT 0, -- claims so far (a crash leaves it counted)
    received_at   timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz,
    CONSTRAINT liveness_jobs_key UNIQUE (certify_id, action),
    CONSTRAINT liveness_jobs_state_check CHECK (state IN ('queued', 'done')),
    CONSTRAINT liveness_jobs_done_check CHECK ((state = 'done') = (done_at IS NOT NULL)),
    CONSTRAINT liveness_jobs_certify_id_check CHECK (certify_id ~ '^[0-9a-f]{32}$'),
    CONSTRAINT liveness_jobs_action_check CHECK (action ~ '^[A-Za-z]{1,64}$')
);
-- Workers take synchronous jobs first, then the oldest.
CREATE INDEX liveness_jobs_queued_idx ON liveness_jobs (synchronous DESC, id)
    WHERE state = 'queued';

-- The outcome of a job. `code` is the API Code the answer carries: '200' when a decision was
-- made (passed/sub_code), '419' when an input image was unusable, '500' for a failure or a
-- timeout. `detail` holds the measurements behind the decision (face counts, quality reasons
-- and scores, distances, liveness reasons): never image bytes, descriptors or personal data.
CREATE TABLE liveness_results (
    id              bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id          bigint           NOT NULL REFERENCES liveness_jobs (id),
    certify_id      text             NOT NULL,
    action          text             NOT NULL,
    tenant_id       uuid             NOT NULL,
    product         smallint         NOT NULL,
    scene_id        bigint           NOT NULL,
    outcome         text             NOT NULL,
    code            text             NOT NULL,
    passed          boolean          NOT NULL,
    sub_code        integer          NOT NULL,
    billable        boolean          NOT NULL,
    verify_score    double precision,
    liveness_score  double precision,
    quality_score   double precision,
    face_photo_id   bigint,
    message         text             NOT NULL,
    detail          jsonb            NOT NULL DEFAULT '{}'::jsonb,
    compute_ms      integer          NOT NULL,
    attempts        integer          NOT NULL,
    completed_at    timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT liveness_results_job_key UNIQUE (job_id),
    CONSTRAINT liveness_results_key UNIQUE (certify_id, action),
    CONSTRAINT liveness_results_outcome_check
        CHECK (outcome IN ('decided', 'unusable', 'timeout', 'failed')),
    CONSTRAINT liveness_results_code_check CHECK (code IN ('200', '419', '500')),
    CONSTRAINT liveness_results_billable_check
        CHECK (NOT billable OR (code = '200' AND sub_code BETWEEN 200 AND 206)),
    CONSTRAINT liveness_results_passed_check CHECK (NOT passed OR sub_code = 200)
);
CREATE INDEX liveness_results_tenant_idx ON liveness_results (tenant_id, completed_at);
