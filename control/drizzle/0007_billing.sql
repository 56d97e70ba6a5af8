CREATE TABLE "billing_periods" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"label" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"time_zone" text NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"closed_at" timestamp with time zone,
	"event_watermark" bigint,
	"rate_card_id" uuid,
	"totals" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_periods_span" CHECK ("billing_periods"."starts_at" < "billing_periods"."ends_at")
);
--> statement-breakpoint
CREATE TABLE "billing_settings" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"time_zone" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_cards" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"currency" text NOT NULL,
	"effective_from" timestamp with time zone NOT NULL,
	"session_hour" numeric(18, 6) NOT NULL,
	"app_session_hour" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"gpu_hour" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rate_cards_effective" UNIQUE NULLS NOT DISTINCT("tenant_id","effective_from")
);
--> statement-breakpoint
CREATE TABLE "usage_records" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"period_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"adjusts_period_id" uuid,
	"session_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"user_email" text NOT NULL,
	"app_id" uuid NOT NULL,
	"app_slug" text NOT NULL,
	"cluster_id" uuid,
	"cluster_name" text,
	"region" text,
	"gpu_sku" text,
	"gpu_count" integer NOT NULL,
	"slice_start" timestamp (3) with time zone NOT NULL,
	"slice_end" timestamp (3) with time zone NOT NULL,
	"session_seconds" numeric(18, 3) NOT NULL,
	"gpu_seconds" numeric(18, 3) NOT NULL,
	"currency" text NOT NULL,
	"amount" numeric(18, 6) NOT NULL,
	CONSTRAINT "usage_records_adjusts" CHECK (("usage_records"."kind" = 'adjustment') = ("usage_records"."adjusts_period_id" is not null))
);
--> statement-breakpoint
ALTER TABLE "billing_periods" ADD CONSTRAINT "billing_periods_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_periods" ADD CONSTRAINT "billing_periods_rate_card_id_rate_cards_id_fk" FOREIGN KEY ("rate_card_id") REFERENCES "public"."rate_cards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_settings" ADD CONSTRAINT "billing_settings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rate_cards" ADD CONSTRAINT "rate_cards_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_period_id_billing_periods_id_fk" FOREIGN KEY ("period_id") REFERENCES "public"."billing_periods"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_adjusts_period_id_billing_periods_id_fk" FOREIGN KEY ("adjusts_period_id") REFERENCES "public"."billing_periods"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "billing_periods_label" ON "billing_periods" USING btree ("tenant_id","label");--> statement-breakpoint
CREATE UNIQUE INDEX "billing_periods_start" ON "billing_periods" USING btree ("tenant_id","starts_at");--> statement-breakpoint
CREATE INDEX "usage_records_period" ON "usage_records" USING btree ("period_id","id");--> statement-breakpoint
CREATE INDEX "usage_records_session" ON "usage_records" USING btree ("session_id");--> statement-breakpoint
-- A closed period is frozen by the database itself, whoever connects: no row of it changes,
-- and no usage record is added to, changed in or removed from it (SQLSTATE 55000,
-- object_not_in_prerequisite_state). Late usage goes to an open period as an adjustment.
CREATE OR REPLACE FUNCTION floe_billing_period_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.state = 'closed' THEN
    RAISE EXCEPTION 'billing period % (%) is closed and cannot change', OLD.label, OLD.id
      USING ERRCODE = '55000';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
--> statement-breakpoint
CREATE TRIGGER billing_periods_frozen BEFORE UPDATE OR DELETE ON billing_periods
  FOR EACH ROW EXECUTE FUNCTION floe_billing_period_frozen();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION floe_usage_record_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND EXISTS (
    SELECT 1 FROM billing_periods p WHERE p.id = OLD.period_id AND p.state = 'closed'
  ) THEN
    RAISE EXCEPTION 'usage records of closed billing period % cannot change', OLD.period_id
      USING ERRCODE = '55000';
  END IF;
  IF TG_OP <> 'DELETE' AND EXISTS (
    SELECT 1 FROM billing_periods p WHERE p.id = NEW.period_id AND p.state = 'closed'
  ) THEN
    RAISE EXCEPTION 'closed billing period % takes no usage records', NEW.period_id
      USING ERRCODE = '55000';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
--> statement-breakpoint
CREATE TRIGGER usage_records_frozen BEFORE INSERT OR UPDATE OR DELETE ON usage_records
  FOR EACH ROW EXECUTE FUNCTION floe_usage_record_frozen();
--> statement-breakpoint
-- TRUNCATE fires no row trigger: refuse it outright once any period is closed
CREATE OR REPLACE FUNCTION floe_usage_records_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM billing_periods WHERE state = 'closed') THEN
    RAISE EXCEPTION 'usage records of closed billing periods cannot be truncated'
      USING ERRCODE = '55000';
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON usage_records
  FOR EACH STATEMENT EXECUTE FUNCTION floe_usage_records_truncate();
--> statement-breakpoint
CREATE TRIGGER billing_periods_no_truncate BEFORE TRUNCATE ON billing_periods
  FOR EACH STATEMENT EXECUTE FUNCTION floe_usage_records_truncate();
