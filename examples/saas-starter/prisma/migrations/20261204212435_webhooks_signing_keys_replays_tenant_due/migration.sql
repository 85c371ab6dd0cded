-- AlterTable
ALTER TABLE "webhook_deliveries" ADD COLUMN     "replay_id" UUID;

-- CreateTable
CREATE TABLE "webhook_signing_keys" (
    "tenant_id" UUID NOT NULL,
    "public_key" VARCHAR(100) NOT NULL,
    "private_key" VARCHAR(300) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "webhook_signing_keys_pkey" PRIMARY KEY ("tenant_id")
);

-- CreateTable
CREATE TABLE "webhook_replays" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "endpoint_id" UUID NOT NULL,
    "since" TIMESTAMPTZ(3) NOT NULL,
    "state" VARCHAR(20) NOT NULL DEFAULT 'queued',
    "total" INTEGER NOT NULL DEFAULT 0,
    "error" VARCHAR(200),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "webhook_replays_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_replays_tenant_id_endpoint_id_created_at_idx" ON "webhook_replays"("tenant_id", "endpoint_id", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_tenant_id_status_next_attempt_at_idx" ON "webhook_deliveries"("tenant_id", "status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_replay_id_status_idx" ON "webhook_deliveries"("replay_id", "status");

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_replay_id_fkey" FOREIGN KEY ("replay_id") REFERENCES "webhook_replays"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_replays" ADD CONSTRAINT "webhook_replays_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- acme: row-level security of tenant-owned model WebhookSigningKey
ALTER TABLE "webhook_signing_keys" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_signing_keys" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "webhook_signing_keys"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- acme: row-level security of tenant-owned model WebhookReplay
ALTER TABLE "webhook_replays" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_replays" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "webhook_replays"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
