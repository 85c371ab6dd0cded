-- CreateTable
CREATE TABLE "rbac_roles" (
    "id" UUID NOT NULL,
    "tenant_id" UUID,
    "name" VARCHAR(40) NOT NULL,
    "description" VARCHAR(200),
    "permissions" TEXT[],
    "inherits" VARCHAR(40),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "rbac_roles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rbac_assignments" (
    "user_id" UUID NOT NULL,
    "roles" TEXT[],
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "rbac_assignments_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "rbac_roles_tenant_id_name_key" ON "rbac_roles"("tenant_id", "name");

-- AddForeignKey
ALTER TABLE "rbac_assignments" ADD CONSTRAINT "rbac_assignments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- acme: raw SQL of fragment @acme/rbac
-- @acme/rbac: a tenant's custom roles are the tenant's (transaction-local `app.tenant_id`, as
-- @acme/tenancy sets it). Without tenancy, roles have no tenant and are the app's: visible when
-- no tenant is set, and never writable as a tenant.
ALTER TABLE "rbac_roles" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "rbac_roles" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "rbac_roles"
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  )
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
