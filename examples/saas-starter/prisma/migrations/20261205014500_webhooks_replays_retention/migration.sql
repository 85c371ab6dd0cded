-- @acme/webhooks: the retention job prunes finished replays, so it lists, under the relay's
-- read-only policy, the tenants that have some past the retention. Hand-written: a policy of the
-- fragment's SQL, no model changed.
CREATE POLICY "acme_webhooks_relay" ON "webhook_replays" FOR SELECT
  USING (current_setting('app.webhooks_relay', true) = 'on');
