CREATE TABLE "cluster_leases" (
	"cluster_id" uuid PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"token" bigint NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"observed" jsonb
);
--> statement-breakpoint
CREATE TABLE "control_replicas" (
	"id" text PRIMARY KEY NOT NULL,
	"local" boolean DEFAULT false NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "cluster_leases" ADD CONSTRAINT "cluster_leases_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
-- Notifications for the control-plane replicas (src/db/notify.ts). Sent by triggers, so that
-- every write path notifies, and in the writing transaction: a rolled-back change notifies
-- nothing. Payloads carry ids only (NOTIFY allows under 8000 bytes); listeners re-read rows.
-- Session changes are not notified here but after their commit (PostgreSQL serializes the
-- commits of notifying transactions: on the hot path that costs admission; see notify.ts).
CREATE FUNCTION floe_notify_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('floe_config', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER tenants_notify_config AFTER INSERT OR UPDATE OR DELETE ON tenants
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE TRIGGER users_notify_config AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE TRIGGER api_keys_notify_config AFTER INSERT OR UPDATE OR DELETE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE TRIGGER identity_providers_notify_config AFTER INSERT OR UPDATE OR DELETE ON identity_providers
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE TRIGGER tenant_hostnames_notify_config AFTER INSERT OR UPDATE OR DELETE ON tenant_hostnames
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE TRIGGER apps_notify_config AFTER INSERT OR UPDATE OR DELETE ON apps
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE TRIGGER clusters_notify_config AFTER INSERT OR UPDATE OR DELETE ON clusters
  FOR EACH STATEMENT EXECUTE FUNCTION floe_notify_config();
--> statement-breakpoint
CREATE FUNCTION floe_notify_cluster() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('floe_cluster', NEW.cluster_id::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION floe_notify_cluster_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('floe_cluster', NEW.id::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER clusters_notify_cluster AFTER INSERT OR UPDATE ON clusters
  FOR EACH ROW EXECUTE FUNCTION floe_notify_cluster_row();
--> statement-breakpoint
-- a lease changing hands or given back (not its renewal every second)
CREATE TRIGGER cluster_leases_notify_insert AFTER INSERT ON cluster_leases
  FOR EACH ROW EXECUTE FUNCTION floe_notify_cluster();
--> statement-breakpoint
CREATE TRIGGER cluster_leases_notify_update AFTER UPDATE ON cluster_leases
  FOR EACH ROW WHEN (OLD.holder IS DISTINCT FROM NEW.holder OR OLD.token IS DISTINCT FROM NEW.token
    OR NEW.expires_at < OLD.expires_at)
  EXECUTE FUNCTION floe_notify_cluster();
