ALTER TABLE "identity_providers" ADD COLUMN "allowed_email_domains" text[] DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "required_claim_name" text;--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "required_claim_value" text;--> statement-breakpoint
-- host names are fully qualified now (two labels at least, never an IP address): older
-- single-label ones could shadow a tenant's slug or id at the gateway
DELETE FROM "tenant_hostnames" WHERE "hostname" NOT LIKE '%.%' OR "hostname" ~ '\.[0-9]+$';
