-- @acme/audit: entries are a tenant's (transaction-local `app.tenant_id`, as @acme/tenancy sets
-- it); entries without a tenant form the app's own chain, visible only when no tenant is set.
-- A statement trigger refuses UPDATE, DELETE and TRUNCATE to everyone but the tables' owner: the
-- app's role can only add and read entries. The owner updates entries only inside
-- `acme_audit_link`, which gives committed entries their place in the chain (a row trigger lets
-- it fill `seq`, `prev_hash` and `hash` once, and change nothing else), and deletes only inside
-- `acme_audit_purge`, which removes nothing past the last signed checkpoint.
ALTER TABLE "audit_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation_read" ON "audit_events" FOR SELECT
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
-- An entry is added unlinked: only the linker gives it a place in the chain, so no writer can
-- fork the chain or claim a seq.
CREATE POLICY "acme_tenant_isolation_insert" ON "audit_events" FOR INSERT
  WITH CHECK (
    (
      "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
      OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
    )
    AND "seq" IS NULL AND "prev_hash" IS NULL AND "hash" IS NULL
  );
CREATE POLICY "acme_tenant_isolation_purge" ON "audit_events" FOR DELETE
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
CREATE POLICY "acme_tenant_isolation_link" ON "audit_events" FOR UPDATE
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
-- Inside `acme_audit_pending_chains` only (it sets the flag), the owner sees every tenant's
-- unlinked entries, to find the chains to link; forced row-level security binds it otherwise.
CREATE POLICY "acme_audit_owner_finds_pending" ON "audit_events" FOR SELECT
  USING (
    "seq" IS NULL
    AND current_setting('acme.audit_pending_chains', true) = 'on'
    AND current_user = (
      SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class
      WHERE oid = 'audit_events'::regclass
    )
  );

-- Entries not linked yet, in recording order: what the linker reads, and nothing else.
CREATE INDEX "audit_events_pending_idx" ON "audit_events" ("tenant_id", "pos") WHERE "seq" IS NULL;

-- Targets (the target filter's index): read and added with their entry, in its tenant; removed
-- only with it, by the purge.
ALTER TABLE "audit_event_targets" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_event_targets" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "audit_event_targets"
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  )
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );

-- Checkpoints: read and added in their tenant, never changed or removed.
ALTER TABLE "audit_checkpoints" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_checkpoints" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation_read" ON "audit_checkpoints" FOR SELECT
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
CREATE POLICY "acme_tenant_isolation_insert" ON "audit_checkpoints" FOR INSERT
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );

-- Chain heads: read and written in their tenant by every new entry. Only the tables' owner sees
-- them all, inside `acme_audit_chains`, which the retention job calls to find every chain
-- (deleted tenants' too).
ALTER TABLE "audit_chain_heads" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_chain_heads" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation" ON "audit_chain_heads"
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  )
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
CREATE POLICY "acme_audit_owner_lists_chains" ON "audit_chain_heads" FOR SELECT
  USING (current_user = (
    SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class
    WHERE oid = 'audit_chain_heads'::regclass
  ));

CREATE FUNCTION "acme_audit_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $acme$
BEGIN
  IF (TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events'))
    AND current_user = (
      SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class WHERE oid = TG_RELID
    ) THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'audit records are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = '42501';
END
$acme$;
CREATE TRIGGER "acme_audit_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "acme_audit_append_only"();

-- Even the owner's UPDATE only links: an entry's place in the chain is set once, and nothing else
-- of it changes.
CREATE FUNCTION "acme_audit_link_only"() RETURNS trigger
LANGUAGE plpgsql AS $acme$
BEGIN
  IF OLD."seq" IS NOT NULL
    OR to_jsonb(NEW) - ARRAY['seq', 'prev_hash', 'hash'] <> to_jsonb(OLD) - ARRAY['seq', 'prev_hash', 'hash'] THEN
    RAISE EXCEPTION 'audit records are append-only: an entry is linked once, and nothing else changes'
      USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$acme$;
CREATE TRIGGER "acme_audit_link_only" BEFORE UPDATE ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "acme_audit_link_only"();
CREATE TRIGGER "acme_audit_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_checkpoints"
  FOR EACH STATEMENT EXECUTE FUNCTION "acme_audit_append_only"();
CREATE TRIGGER "acme_audit_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_event_targets"
  FOR EACH STATEMENT EXECUTE FUNCTION "acme_audit_append_only"();

-- The one way entries leave: up to `p_limit` of the tenant's oldest entries, none past its last
-- checkpoint. Runs as the owner (SECURITY DEFINER), in the caller's transaction.
CREATE FUNCTION "acme_audit_purge"(p_tenant uuid, p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $acme$
DECLARE
  upto integer;
  deleted integer;
BEGIN
  PERFORM pg_catalog.set_config('app.tenant_id', COALESCE(p_tenant::text, ''), true);
  SELECT max("seq") INTO upto FROM "audit_checkpoints"
    WHERE "tenant_id" IS NOT DISTINCT FROM p_tenant;
  IF upto IS NULL THEN
    RETURN 0;
  END IF;
  WITH gone AS (
    DELETE FROM "audit_events" WHERE "id" IN (
      SELECT "id" FROM "audit_events"
      WHERE "tenant_id" IS NOT DISTINCT FROM p_tenant AND "seq" <= upto
      ORDER BY "seq" LIMIT p_limit
    )
    RETURNING "pos"
  ), targets AS (
    DELETE FROM "audit_event_targets" t USING gone WHERE t."pos" = gone."pos"
  )
  SELECT count(*) INTO deleted FROM gone;
  RETURN deleted;
END
$acme$;

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

-- The chains retention walks, by chain key after `p_after`: every tenant's (and the app's), which
-- the app's role cannot list itself. Runs as the owner (SECURITY DEFINER).
CREATE FUNCTION "acme_audit_chains"(p_after text, p_limit integer)
RETURNS TABLE ("chain_key" text, "tenant_id" uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $acme$
  SELECT h."chain_key"::text, h."tenant_id" FROM "audit_chain_heads" h
  WHERE h."chain_key" > p_after ORDER BY h."chain_key" LIMIT p_limit
$acme$;

-- Links up to `p_limit` of the chain's committed, unlinked entries in recording order: each gets
-- the next seq, the chain's tip as `prev_hash`, and `hash = sha256(prev_hash|seq|content_hash)`.
-- The chain head's row lock makes one linker per chain at a time; writers never take it. Runs as
-- the owner (SECURITY DEFINER), in the caller's transaction; returns the entries linked.
CREATE FUNCTION "acme_audit_link"(p_tenant uuid, p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $acme$
DECLARE
  chain text := COALESCE(p_tenant::text, 'app');
  tip_seq integer;
  tip_hash text;
  ids uuid[] := '{}';
  seqs integer[] := '{}';
  prevs text[] := '{}';
  hashes text[] := '{}';
  pending refcursor;
  entry_id uuid;
  entry_content text;
BEGIN
  PERFORM pg_catalog.set_config('app.tenant_id', COALESCE(p_tenant::text, ''), true);
  INSERT INTO "audit_chain_heads" ("chain_key", "tenant_id", "seq", "hash", "prev_hash", "updated_at")
    VALUES (chain, p_tenant, 0, repeat('0', 64), repeat('0', 64), now())
    ON CONFLICT ("chain_key") DO NOTHING;
  SELECT "seq", "hash" INTO tip_seq, tip_hash FROM "audit_chain_heads"
    WHERE "chain_key" = chain FOR UPDATE;
  -- Two spellings, so the partial index serves both.
  IF p_tenant IS NULL THEN
    OPEN pending FOR SELECT "id", "content_hash" FROM "audit_events"
      WHERE "tenant_id" IS NULL AND "seq" IS NULL ORDER BY "pos" LIMIT p_limit;
  ELSE
    OPEN pending FOR SELECT "id", "content_hash" FROM "audit_events"
      WHERE "tenant_id" = p_tenant AND "seq" IS NULL ORDER BY "pos" LIMIT p_limit;
  END IF;
  LOOP
    FETCH pending INTO entry_id, entry_content;
    EXIT WHEN NOT FOUND;
    ids := ids || entry_id;
    prevs := prevs || tip_hash;
    tip_seq := tip_seq + 1;
    -- An entry without a content hash (not written by `record`) is linked all the same, so the
    -- chain goes on; verify then names it as altered.
    tip_hash := encode(sha256(convert_to(
      tip_hash || '|' || tip_seq::text || '|' || COALESCE(entry_content, ''), 'UTF8')), 'hex');
    seqs := seqs || tip_seq;
    hashes := hashes || tip_hash;
  END LOOP;
  CLOSE pending;
  IF cardinality(ids) = 0 THEN
    RETURN 0;
  END IF;
  UPDATE "audit_events" e SET "seq" = l."seq", "prev_hash" = l."prev", "hash" = l."hash"
    FROM unnest(ids, seqs, prevs, hashes) AS l("id", "seq", "prev", "hash")
    WHERE e."id" = l."id" AND e."seq" IS NULL;
  UPDATE "audit_chain_heads" SET "seq" = tip_seq, "prev_hash" = prevs[cardinality(prevs)],
    "hash" = tip_hash, "updated_at" = now()
    WHERE "chain_key" = chain;
  RETURN cardinality(ids);
END
$acme$;

-- The chains with entries recorded but not linked yet (the linker's sweep), which the app's role
-- cannot list itself. Runs as the owner (SECURITY DEFINER).
CREATE FUNCTION "acme_audit_pending_chains"(p_limit integer)
RETURNS TABLE ("tenant_id" uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $acme$
BEGIN
  PERFORM pg_catalog.set_config('acme.audit_pending_chains', 'on', true);
  RETURN QUERY SELECT DISTINCT e."tenant_id" FROM "audit_events" e WHERE e."seq" IS NULL
    LIMIT p_limit;
  PERFORM pg_catalog.set_config('acme.audit_pending_chains', '', true);
END
$acme$;
