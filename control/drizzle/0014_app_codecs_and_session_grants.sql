CREATE TABLE "session_grants" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"user_id" uuid,
	"role" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "session_grants_kind" CHECK (("session_grants"."kind" = 'user') = ("session_grants"."user_id" is not null) and ("session_grants"."kind" = 'user' or "session_grants"."expires_at" is not null))
);
--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "video_codecs" text[];--> statement-breakpoint
ALTER TABLE "session_grants" ADD CONSTRAINT "session_grants_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_grants" ADD CONSTRAINT "session_grants_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_grants" ADD CONSTRAINT "session_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_grants" ADD CONSTRAINT "session_grants_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "session_grants_session" ON "session_grants" USING btree ("session_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "session_grants_user_live" ON "session_grants" USING btree ("session_id","user_id") WHERE "session_grants"."revoked_at" is null and "session_grants"."user_id" is not null;