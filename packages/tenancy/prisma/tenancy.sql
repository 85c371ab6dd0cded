-- @acme/tenancy: row-level security of its own tables. Every statement reads transaction-local
-- settings (set_config(..., true)), so nothing survives the transaction on a pooled connection,
-- and an empty setting matches no row.

-- Members: a tenant sees and changes its own; a user also sees their memberships in every
-- tenant (to list "my tenants" before choosing one), and changes none of them that way.
ALTER TABLE "memberships" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "memberships" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "memberships"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "acme_own_memberships" ON "memberships" FOR SELECT
  USING ("user_id" = NULLIF(current_setting('app.user_id', true), '')::uuid);

-- Invitations: a tenant sees its own; whoever holds an invitation's token sees that one
-- invitation (to accept it before being a member).
ALTER TABLE "invitations" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "invitations" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "invitations"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "acme_invitation_by_token" ON "invitations" FOR SELECT
  USING ("token_hash" = NULLIF(current_setting('app.invitation_token_hash', true), ''));

-- API keys (from @acme/auth): a tenant's keys are the tenant's; a user also reaches the keys
-- they made (auth's /auth/api-keys routes act as the owner), and authentication finds one key
-- by its public prefix before any tenant is known.
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "api_keys"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "acme_own_api_keys" ON "api_keys"
  USING ("owner_id" = NULLIF(current_setting('app.user_id', true), '')::uuid)
  WITH CHECK ("owner_id" = NULLIF(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY "acme_api_key_lookup" ON "api_keys" FOR SELECT
  USING ("prefix" = NULLIF(current_setting('app.api_key_prefix', true), ''));
