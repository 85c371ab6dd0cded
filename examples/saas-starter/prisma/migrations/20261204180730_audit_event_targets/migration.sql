-- CreateTable
CREATE TABLE "audit_event_targets" (
    "tenant_id" UUID,
    "target_id" TEXT NOT NULL,
    "pos" BIGINT NOT NULL,

    CONSTRAINT "audit_event_targets_pkey" PRIMARY KEY ("pos","target_id")
);

-- CreateIndex
CREATE INDEX "audit_event_targets_tenant_id_target_id_pos_idx" ON "audit_event_targets"("tenant_id", "target_id", "pos");

-- The entries recorded so far: their target ids, before the column goes.
INSERT INTO "audit_event_targets" ("tenant_id", "target_id", "pos")
SELECT DISTINCT "tenant_id", unnest("target_ids"), "pos" FROM "audit_events";

-- DropIndex
DROP INDEX "audit_events_target_ids_idx";

-- AlterTable
ALTER TABLE "audit_events" DROP COLUMN "target_ids";

-- @acme/audit: the target filter reads audit_event_targets, a btree per (tenant, target, pos)
-- the planner uses however common the target. Hand-written: the fragment's SQL for the new table,
-- and the purge that now deletes an entry's targets with it.
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
CREATE TRIGGER "acme_audit_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_event_targets"
  FOR EACH STATEMENT EXECUTE FUNCTION "acme_audit_append_only"();

CREATE OR REPLACE FUNCTION "acme_audit_purge"(p_tenant uuid, p_limit integer) RETURNS integer
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
