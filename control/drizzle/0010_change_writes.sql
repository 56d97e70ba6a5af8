-- Hand-written. A change's webhook events and audit entry are written by one statement,
-- floe_write_change, in the change's transaction (issue 16: seven statements per launch
-- had cut admission to a third). Admission calls it inside floe_admit_session, so a launch
-- is one statement again; a session transition calls it in the statement of its update.

-- A UUID version 7 (time-ordered, as the application's `uuid` v7) for rows made in SQL:
-- 48 bits of Unix milliseconds over a random v4, with the version nibble set to 7.
CREATE FUNCTION floe_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
--> statement-breakpoint
-- A time as JavaScript's toISOString writes it (UTC, milliseconds, "Z").
CREATE FUNCTION floe_iso_time(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
--> statement-breakpoint
-- An event's webhook body: {type, timestamp, data}, with `timestamp` and each field of
-- `data` named in `stamp` (dotted paths) set to the time the change happened, which only
-- the database knows when the change takes now() (a launch's createdAt, an audit entry's at).
CREATE FUNCTION floe_event_payload(p_event jsonb, p_at timestamptz) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_time jsonb := to_jsonb(floe_iso_time(p_at));
  v_data jsonb := p_event->'data';
  v_path text;
BEGIN
  FOR v_path IN SELECT jsonb_array_elements_text(coalesce(p_event->'stamp', '[]'::jsonb)) LOOP
    v_data := jsonb_set(v_data, string_to_array(v_path, '.'), v_time);
  END LOOP;
  RETURN jsonb_build_object('type', p_event->>'type', 'timestamp', v_time, 'data', v_data);
END
$$;
--> statement-breakpoint
-- Writes what a change says about itself, in the transaction of the change:
-- * p_audit: its audit entry, an audit_log row as JSON (column names; `at` is now()), or null;
-- * p_events: its webhook events, [{id, tenant, type, at (null: now()), data, stamp}], each
--   queued as one webhook_deliveries row per enabled endpoint of its tenant subscribed to
--   its type: one INSERT … SELECT for all of them, which finds nothing (and costs an index
--   probe) for a tenant without endpoints.
-- Returns the number of deliveries queued.
CREATE FUNCTION floe_write_change(p_events jsonb, p_audit jsonb) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  queued int;
BEGIN
  IF p_audit IS NOT NULL THEN
    INSERT INTO audit_log (id, at, tenant_id, actor_type, actor_id, actor_role, actor_tenant_id,
                           action, target_type, target_id, diff, request_id, source_ip, user_agent)
      SELECT r.id, now(), r.tenant_id, r.actor_type, r.actor_id, r.actor_role, r.actor_tenant_id,
             r.action, r.target_type, r.target_id, r.diff, r.request_id, r.source_ip, r.user_agent
      FROM jsonb_populate_record(NULL::audit_log, p_audit) r;
  END IF;
  IF p_events IS NULL OR jsonb_array_length(p_events) = 0 THEN
    RETURN 0;
  END IF;
  INSERT INTO webhook_deliveries (id, event_id, endpoint_id, tenant_id, event_type, payload)
    SELECT floe_uuidv7(), (ev->>'id')::uuid, w.id, w.tenant_id, ev->>'type',
           floe_event_payload(ev, coalesce((ev->>'at')::timestamptz, now()))
    FROM jsonb_array_elements(p_events) AS e(ev)
    JOIN webhook_endpoints w ON w.tenant_id = (ev->>'tenant')::uuid
    WHERE w.enabled AND w.deleted_at IS NULL
      AND floe_event_type_matches(w.event_types, ev->>'type');
  GET DIAGNOSTICS queued = ROW_COUNT;
  RETURN queued;
END
$$;
--> statement-breakpoint
-- floe_admit_session of 0006, which now also writes the launch's events and audit entry
-- (floe_write_change) once the session is admitted, and nothing for a refused launch
DROP FUNCTION floe_admit_session(uuid, uuid, uuid, uuid, uuid, text, int, text, text, timestamptz);
--> statement-breakpoint
CREATE FUNCTION floe_admit_session(
  p_session_id uuid, p_tenant_id uuid, p_user_id uuid, p_app_id uuid, p_cluster_id uuid,
  p_gpu_sku text, p_gpu_count int, p_idempotency_key text, p_request_hash text,
  p_month_start timestamptz, p_events jsonb, p_audit jsonb
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
  -- the launch's session.requested and session.placed events and its audit entry
  PERFORM floe_write_change(p_events, p_audit);
  RETURN QUERY SELECT 'admitted', NULL::text, NULL::float8, NULL::float8, p_session_id, now();
END
$$;
