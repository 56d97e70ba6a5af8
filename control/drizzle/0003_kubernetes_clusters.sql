ALTER TABLE "clusters" ADD COLUMN "api_server" text;--> statement-breakpoint
ALTER TABLE "clusters" ADD COLUMN "kubeconfig_sealed" text;