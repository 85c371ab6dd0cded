-- @acme/webhooks: every table is tenant-owned (forced row-level security on app.tenant_id, from
-- the models' marker). The relay alone must find work across tenants: in its own transactions it
-- sets app.webhooks_relay to 'on' and may then read outbox rows and deliveries of every tenant.
-- It reads ids, tenant ids and times that way, and does everything else, content included, in
-- the row's tenant. Reading only: nothing is written under this policy.
CREATE POLICY "acme_webhooks_relay" ON "webhook_messages" FOR SELECT
  USING (current_setting('app.webhooks_relay', true) = 'on');
CREATE POLICY "acme_webhooks_relay" ON "webhook_deliveries" FOR SELECT
  USING (current_setting('app.webhooks_relay', true) = 'on');
