-- AlterTable
ALTER TABLE "auth_sessions" ADD COLUMN     "active_tenant_id" UUID;

-- AlterTable
ALTER TABLE "one_time_tokens" ADD COLUMN     "payload" VARCHAR(320);
