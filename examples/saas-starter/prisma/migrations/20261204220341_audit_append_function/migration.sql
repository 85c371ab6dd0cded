-- @acme/audit: an entry is recorded through acme_audit_append, whose statements PostgreSQL plans
-- once per connection. Hand-written: a function of the fragment's SQL, no model changed.
-- One entry, as `record` appends it: the row, unlinked, and its distinct target ids, in the
-- caller's transaction and under the caller's row-level security (not SECURITY DEFINER: the insert
-- policies apply as to a plain INSERT). A PL/pgSQL function because PostgreSQL then plans its two
-- statements once per connection, where a statement sent with parameters (as Prisma sends raw SQL)
-- is parsed and planned again on every call. The entry's `pos` is drawn first, so the row needs no
-- RETURNING (which would evaluate the read policies as well).
CREATE FUNCTION "acme_audit_append"(
  p_id uuid, p_tenant uuid, p_action text, p_action_version integer, p_occurred_at timestamptz,
  p_actor_type text, p_actor_id text, p_actor jsonb, p_targets jsonb, p_before jsonb,
  p_after jsonb, p_changes jsonb, p_metadata jsonb, p_ip text, p_user_agent text,
  p_request_id text, p_content_hash text) RETURNS void
LANGUAGE plpgsql AS $acme$
DECLARE
  entry_pos bigint := nextval('"audit_events_pos_seq"'::regclass);
BEGIN
  INSERT INTO "audit_events" (
    "id", "tenant_id", "pos", "action", "action_version", "occurred_at", "actor_type", "actor_id",
    "actor", "targets", "before", "after", "changes", "metadata", "ip", "user_agent",
    "request_id", "content_hash")
  VALUES (p_id, p_tenant, entry_pos, p_action, p_action_version, p_occurred_at, p_actor_type,
    p_actor_id, p_actor, p_targets, p_before, p_after, p_changes, p_metadata, p_ip, p_user_agent,
    p_request_id, p_content_hash);
  IF jsonb_array_length(p_targets) > 0 THEN
    INSERT INTO "audit_event_targets" ("tenant_id", "target_id", "pos")
    SELECT DISTINCT p_tenant, target ->> 'id', entry_pos FROM jsonb_array_elements(p_targets) AS target;
  END IF;
END
$acme$;
