ALTER TABLE "apps" ADD COLUMN "app_class" text;--> statement-breakpoint
ALTER TABLE "rate_cards" ADD COLUMN "class_session_hour" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "app_class" text;