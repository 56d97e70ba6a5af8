CREATE TABLE "transfer_policies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"app_id" uuid,
	"clipboard" boolean DEFAULT true NOT NULL,
	"files" boolean DEFAULT true NOT NULL,
	"max_file_bytes" bigint,
	"max_home_bytes" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "transfer_policies" ADD CONSTRAINT "transfer_policies_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transfer_policies" ADD CONSTRAINT "transfer_policies_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "transfer_policies_tenant" ON "transfer_policies" USING btree ("tenant_id") WHERE "transfer_policies"."app_id" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "transfer_policies_app" ON "transfer_policies" USING btree ("app_id") WHERE "transfer_policies"."app_id" is not null;