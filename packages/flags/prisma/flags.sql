-- @acme/flags: a tenant's overrides are the tenant's. Inside a tenant's transaction
-- (`app.tenant_id` set, as @acme/tenancy sets it for request.db and tenant admins' changes) only
-- that tenant's rows are visible or writable. Without a tenant, the app's own scope (the
-- operators' routes and the loader every instance runs, which reads every override into memory)
-- sees them all, as rbac's policy lets the app scope see its tenant-less roles.
ALTER TABLE "flag_tenant_overrides" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "flag_tenant_overrides" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "flag_tenant_overrides"
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.tenant_id', true), '') IS NULL
  )
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.tenant_id', true), '') IS NULL
  );

-- The history of changes: a tenant's transaction sees (and writes) the changes of its own
-- overrides only; the app's scope sees the whole history.
ALTER TABLE "flag_changes" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "flag_changes" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "flag_changes"
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.tenant_id', true), '') IS NULL
  )
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.tenant_id', true), '') IS NULL
  );
