-- AlterTable
ALTER TABLE "auth_sessions" DROP COLUMN "active_tenant_id";

-- AlterTable
ALTER TABLE "api_keys" DROP COLUMN "tenant_id";
