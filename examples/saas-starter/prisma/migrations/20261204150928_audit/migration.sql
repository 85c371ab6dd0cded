-- CreateTable
CREATE TABLE "audit_events" (
    "id" UUID NOT NULL,
    "tenant_id" UUID,
    "seq" INTEGER NOT NULL,
    "action" VARCHAR(100) NOT NULL,
    "action_version" INTEGER NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "actor_type" VARCHAR(20) NOT NULL,
    "actor_id" VARCHAR(100),
    "actor" JSONB NOT NULL,
    "targets" JSONB NOT NULL,
    "target_ids" TEXT[],
    "before" JSONB,
    "after" JSONB,
    "changes" JSONB,
    "metadata" JSONB NOT NULL,
    "ip" VARCHAR(64),
    "user_agent" VARCHAR(512),
    "request_id" VARCHAR(128),
    "prev_hash" CHAR(64) NOT NULL,
    "hash" CHAR(64) NOT NULL,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_chain_heads" (
    "chain_key" VARCHAR(64) NOT NULL,
    "tenant_id" UUID,
    "seq" INTEGER NOT NULL,
    "hash" CHAR(64) NOT NULL,
    "prev_hash" CHAR(64) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_chain_heads_pkey" PRIMARY KEY ("chain_key")
);

-- CreateTable
CREATE TABLE "audit_checkpoints" (
    "id" UUID NOT NULL,
    "tenant_id" UUID,
    "seq" INTEGER NOT NULL,
    "hash" CHAR(64) NOT NULL,
    "pruned_at" TIMESTAMPTZ(3) NOT NULL,
    "key_id" VARCHAR(64) NOT NULL,
    "signature" VARCHAR(200) NOT NULL,

    CONSTRAINT "audit_checkpoints_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "audit_events_tenant_id_actor_id_seq_idx" ON "audit_events"("tenant_id", "actor_id", "seq");

-- CreateIndex
CREATE INDEX "audit_events_tenant_id_action_seq_idx" ON "audit_events"("tenant_id", "action", "seq");

-- CreateIndex
CREATE INDEX "audit_events_tenant_id_occurred_at_idx" ON "audit_events"("tenant_id", "occurred_at");

-- CreateIndex
CREATE INDEX "audit_events_target_ids_idx" ON "audit_events" USING GIN ("target_ids");

-- CreateIndex
CREATE UNIQUE INDEX "audit_events_tenant_id_seq_key" ON "audit_events"("tenant_id", "seq");

-- CreateIndex
CREATE INDEX "audit_checkpoints_tenant_id_seq_idx" ON "audit_checkpoints"("tenant_id", "seq");

-- acme: raw SQL of fragment @acme/audit
-- @acme/audit: entries are a tenant's (transaction-local `app.tenant_id`, as @acme/tenancy sets
-- it); entries without a tenant form the app's own chain, visible only when no tenant is set.
-- There is no UPDATE policy, and a statement trigger refuses UPDATE and TRUNCATE to everyone and
-- DELETE to everyone but the tables' owner: the app's role can only add and read entries. The
-- retention job deletes through `acme_audit_purge`, which runs as the owner and removes nothing
-- past the last signed checkpoint.
ALTER TABLE "audit_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "acme_tenant_isolation_read" ON "audit_events" FOR SELECT
  USING (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
CREATE POLICY "acme_tenant_isolation_insert" ON "audit_events" FOR INSERT
  WITH CHECK (
    "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR ("tenant_id" IS NULL AND NULLIF(current_setting('app.tenant_id', true), '') IS NULL)
  );
CREATE POLICY "acme_tenant_isolation_purge" ON "audit_events" FOR DELETE
  USING (
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
  IF TG_OP = 'DELETE' AND current_user = (
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
CREATE TRIGGER "acme_audit_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_checkpoints"
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
  DELETE FROM "audit_events" WHERE "id" IN (
    SELECT "id" FROM "audit_events"
    WHERE "tenant_id" IS NOT DISTINCT FROM p_tenant AND "seq" <= upto
    ORDER BY "seq" LIMIT p_limit
  );
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
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
