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
