CREATE TABLE "quota_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"type" text NOT NULL,
	"quota" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "max_gpus_per_sku" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "gpu_hours_exceeded_action" text DEFAULT 'refuse' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "max_gpus_per_sku" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "quota_events" ADD CONSTRAINT "quota_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "quota_events_once" ON "quota_events" USING btree ("tenant_id","type","quota","period_start");;--> statement-breakpoint
-- ===== hand-written (quota helper): keep this section at the end when renumbering =====
-- floe_admit_session of 0004, which now also counts GPUs per SKU against the tenant's and
-- the user's max_gpus_per_sku ({"l4": 4}: at most 4 l4 GPUs at once; a SKU not named is
-- not limited), answering 'tenant.maxGpusPerSku' or 'user.maxGpusPerSku' (the SKU is the
-- launch's, p_gpu_sku). Admission of one launch, in one round trip: lock the tenant row
-- (launches of a tenant are serialised, other tenants' are not), honour the idempotency
-- key, count what the tenant and the user hold, refuse at the first quota reached, else
-- record the session as placed on p_cluster_id with its first two events. Under READ
-- COMMITTED each statement here sees every launch committed before the lock was granted,
-- so no burst overshoots.
CREATE OR REPLACE FUNCTION floe_admit_session(
  p_session_id uuid, p_tenant_id uuid, p_user_id uuid, p_app_id uuid, p_cluster_id uuid,
  p_gpu_sku text, p_gpu_count int, p_idempotency_key text, p_request_hash text,
  p_month_start timestamptz
)
RETURNS TABLE (outcome text, quota text, held float8, quota_limit float8, session_id uuid, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  u record;
  prior record;
  t_sessions int;
  t_gpus int;
  t_sku_gpus int;
  u_sessions int;
  u_gpus int;
  u_sku_gpus int;
  t_sku_limit int;
  u_sku_limit int;
  gpu_seconds float8;
BEGIN
  SELECT tn.max_sessions, tn.max_gpus, tn.max_gpus_per_sku, tn.gpu_hours_per_month, tn.deleted_at INTO t
    FROM tenants tn WHERE tn.id = p_tenant_id FOR UPDATE;
  IF NOT FOUND OR t.deleted_at IS NOT NULL THEN
    RETURN QUERY SELECT 'no_tenant', NULL::text, NULL::float8, NULL::float8, NULL::uuid, NULL::timestamptz;
    RETURN;
  END IF;

  IF p_idempotency_key IS NOT NULL THEN
    SELECT s.id, s.request_hash, s.created_at INTO prior
      FROM sessions s WHERE s.tenant_id = p_tenant_id AND s.idempotency_key = p_idempotency_key;
    IF FOUND THEN
      RETURN QUERY SELECT
        CASE WHEN prior.request_hash IS DISTINCT FROM p_request_hash THEN 'key_reused' ELSE 'replayed' END,
        NULL::text, NULL::float8, NULL::float8, prior.id, prior.created_at;
      RETURN;
    END IF;
  END IF;

  -- the user and the app must still be there: deleting either (or the tenant) takes the
  -- tenant's lock too, so a launch is admitted wholly before a delete or refused after it
  SELECT us.max_sessions, us.max_gpus, us.max_gpus_per_sku INTO u FROM users us
    WHERE us.id = p_user_id AND us.tenant_id = p_tenant_id AND us.deleted_at IS NULL;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_user', NULL::text, NULL::float8, NULL::float8, NULL::uuid, NULL::timestamptz;
    RETURN;
  END IF;
  PERFORM 1 FROM apps a WHERE a.id = p_app_id AND a.tenant_id = p_tenant_id AND a.deleted_at IS NULL;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_app', NULL::text, NULL::float8, NULL::float8, NULL::uuid, NULL::timestamptz;
    RETURN;
  END IF;
  SELECT count(*), coalesce(sum(s.gpu_count), 0),
         coalesce(sum(s.gpu_count) FILTER (WHERE s.gpu_sku = p_gpu_sku), 0),
         count(*) FILTER (WHERE s.user_id = p_user_id),
         coalesce(sum(s.gpu_count) FILTER (WHERE s.user_id = p_user_id), 0),
         coalesce(sum(s.gpu_count) FILTER (WHERE s.user_id = p_user_id AND s.gpu_sku = p_gpu_sku), 0)
    INTO t_sessions, t_gpus, t_sku_gpus, u_sessions, u_gpus, u_sku_gpus
    FROM sessions s WHERE s.tenant_id = p_tenant_id AND s.state NOT IN ('stopped', 'failed');

  IF t.max_sessions IS NOT NULL AND t_sessions + 1 > t.max_sessions THEN
    RETURN QUERY SELECT 'quota', 'tenant.maxSessions', t_sessions::float8, t.max_sessions::float8, NULL::uuid, NULL::timestamptz;
    RETURN;
  END IF;
  IF u.max_sessions IS NOT NULL AND u_sessions + 1 > u.max_sessions THEN
    RETURN QUERY SELECT 'quota', 'user.maxSessions', u_sessions::float8, u.max_sessions::float8, NULL::uuid, NULL::timestamptz;
    RETURN;
  END IF;
  IF p_gpu_count > 0 THEN
    IF t.max_gpus IS NOT NULL AND t_gpus + p_gpu_count > t.max_gpus THEN
      RETURN QUERY SELECT 'quota', 'tenant.maxGpus', t_gpus::float8, t.max_gpus::float8, NULL::uuid, NULL::timestamptz;
      RETURN;
    END IF;
    t_sku_limit := (t.max_gpus_per_sku ->> p_gpu_sku)::int;
    IF t_sku_limit IS NOT NULL AND t_sku_gpus + p_gpu_count > t_sku_limit THEN
      RETURN QUERY SELECT 'quota', 'tenant.maxGpusPerSku', t_sku_gpus::float8, t_sku_limit::float8, NULL::uuid, NULL::timestamptz;
      RETURN;
    END IF;
    IF u.max_gpus IS NOT NULL AND u_gpus + p_gpu_count > u.max_gpus THEN
      RETURN QUERY SELECT 'quota', 'user.maxGpus', u_gpus::float8, u.max_gpus::float8, NULL::uuid, NULL::timestamptz;
      RETURN;
    END IF;
    u_sku_limit := (u.max_gpus_per_sku ->> p_gpu_sku)::int;
    IF u_sku_limit IS NOT NULL AND u_sku_gpus + p_gpu_count > u_sku_limit THEN
      RETURN QUERY SELECT 'quota', 'user.maxGpusPerSku', u_sku_gpus::float8, u_sku_limit::float8, NULL::uuid, NULL::timestamptz;
      RETURN;
    END IF;
    IF t.gpu_hours_per_month IS NOT NULL THEN
      SELECT coalesce(sum(sp.seconds * sp.gpu_count), 0) INTO gpu_seconds
        FROM floe_usage_spans(p_tenant_id, p_month_start, 'infinity') sp;
      IF gpu_seconds >= t.gpu_hours_per_month * 3600 THEN
        RETURN QUERY SELECT 'quota', 'tenant.gpuHoursPerMonth', gpu_seconds / 3600, t.gpu_hours_per_month::float8, NULL::uuid, NULL::timestamptz;
        RETURN;
      END IF;
    END IF;
  END IF;

  INSERT INTO sessions (id, tenant_id, user_id, app_id, cluster_id, state, gpu_sku, gpu_count, idempotency_key, request_hash)
    VALUES (p_session_id, p_tenant_id, p_user_id, p_app_id, p_cluster_id, 'placed',
            p_gpu_sku, p_gpu_count, p_idempotency_key, p_request_hash);
  INSERT INTO session_events (session_id, tenant_id, from_state, to_state)
    VALUES (p_session_id, p_tenant_id, NULL, 'requested'), (p_session_id, p_tenant_id, 'requested', 'placed');
  RETURN QUERY SELECT 'admitted', NULL::text, NULL::float8, NULL::float8, p_session_id, now();
END
$$;
