-- @acme/webhooks: every table is tenant-owned (forced row-level security on app.tenant_id, from
-- the models' marker). The relay alone must find work across tenants: in its own transactions it
-- sets app.webhooks_relay to 'on' and may then read outbox rows and deliveries of every tenant.
-- It reads ids, tenant ids and times that way, and does everything else, content included, in
-- the row's tenant. Reading only: nothing is written under this policy.
CREATE POLICY "acme_webhooks_relay" ON "webhook_messages" FOR SELECT
  USING (current_setting('app.webhooks_relay', true) = 'on');
CREATE POLICY "acme_webhooks_relay" ON "webhook_deliveries" FOR SELECT
  USING (current_setting('app.webhooks_relay', true) = 'on');
-- The retention job lists, the same way, the tenants with finished replays past the retention.
CREATE POLICY "acme_webhooks_relay" ON "webhook_replays" FOR SELECT
  USING (current_setting('app.webhooks_relay', true) = 'on');

-- The delivery engine's two hot statements, as PL/pgSQL functions: their statements are planned
-- once per connection (a parameterised statement, as Prisma sends raw SQL, is planned on every
-- call), and every delivery is read and written by its primary key. Joined to a batch in one
-- statement instead, PostgreSQL without statistics on the table (a new install, or a burst before
-- autovacuum's first ANALYZE) took the tenant for a handful of rows and scanned all of them for
-- each batch: 10 ms a batch at 5,000 pending deliveries, 80 ms at 20,000. Neither function is
-- SECURITY DEFINER: the caller's row-level security applies to every statement.

-- A claimed delivery, with its endpoint, its message and the tenant's sealed signing key (NULL
-- when one is gone), as the engine reads it.
CREATE TYPE "acme_webhooks_claimed" AS (
  "deliveryId" uuid, "attempts" integer, "messageId" text, "endpointId" uuid, "url" text,
  "enabled" boolean, "headers" jsonb, "secret" text, "previousSecret" text,
  "previousSecretUntil" timestamptz, "rateLimit" integer, "eventType" text, "payload" jsonb,
  "createdAt" timestamptz, "tenantId" text, "signingKey" text);

-- Claims deliveries for the caller's tenant (`app.tenant_id`, set by the caller): `p_delivery`,
-- or with NULL the tenant's oldest due ones, up to `p_limit`. Due by `p_now` and not leased;
-- `FOR UPDATE SKIP LOCKED`, so two runs never wait on, nor take, the same row. Each claimed row
-- counts its attempt and is leased until `p_lease_until`; oldest due first.
CREATE FUNCTION "acme_webhooks_claim"(
  p_tenant uuid, p_delivery uuid, p_now timestamptz, p_lease_until timestamptz, p_limit integer)
RETURNS SETOF "acme_webhooks_claimed"
LANGUAGE plpgsql AS $acme$
DECLARE
  due refcursor;
  due_id uuid;
  signing_key text;
BEGIN
  IF p_limit < 1 THEN
    RETURN;
  END IF;
  -- Two spellings, so each is planned for its own index.
  IF p_delivery IS NULL THEN
    OPEN due FOR SELECT d."id" FROM "webhook_deliveries" d
      WHERE d."tenant_id" = p_tenant AND d."status" = 'pending' AND d."next_attempt_at" <= p_now
        AND (d."lease_until" IS NULL OR d."lease_until" < p_now)
      ORDER BY d."next_attempt_at" LIMIT p_limit
      FOR UPDATE SKIP LOCKED;
  ELSE
    OPEN due FOR SELECT d."id" FROM "webhook_deliveries" d
      WHERE d."tenant_id" = p_tenant AND d."id" = p_delivery AND d."status" = 'pending'
        AND d."next_attempt_at" <= p_now AND (d."lease_until" IS NULL OR d."lease_until" < p_now)
      FOR UPDATE SKIP LOCKED;
  END IF;
  SELECT k."private_key" INTO signing_key FROM "webhook_signing_keys" k
    WHERE k."tenant_id" = p_tenant;
  LOOP
    FETCH due INTO due_id;
    EXIT WHEN NOT FOUND;
    RETURN QUERY
      WITH claimed AS (
        UPDATE "webhook_deliveries" d
        SET "attempts" = d."attempts" + 1, "lease_until" = p_lease_until, "updated_at" = p_now
        WHERE d."tenant_id" = p_tenant AND d."id" = due_id
        RETURNING d."id", d."attempts", d."message_id", d."endpoint_id"
      )
      SELECT c."id", c."attempts", c."message_id"::text, c."endpoint_id", e."url"::text,
        e."enabled", e."headers", e."secret"::text, e."previous_secret"::text,
        e."previous_secret_until", e."rate_limit_per_second", m."event_type"::text, m."payload",
        m."created_at", p_tenant::text, signing_key
      FROM claimed c
      LEFT JOIN "webhook_endpoints" e ON e."tenant_id" = p_tenant AND e."id" = c."endpoint_id"
      LEFT JOIN "webhook_messages" m ON m."tenant_id" = p_tenant AND m."id" = c."message_id";
  END LOOP;
  CLOSE due;
END
$acme$;

-- One step of a tenant's runs in a worker (the engine's batch): sets the tenant for its own
-- transaction, as the engine's transactions do; records the delivered attempts (their log rows,
-- their deliveries delivered, the end of their endpoints' failure runs); then claims up to
-- `p_claim` of the tenant's next due deliveries (`acme_webhooks_claim`). One statement, so it
-- needs no transaction of its own around it: sent alone, it commits or rolls back whole.
CREATE FUNCTION "acme_webhooks_step"(
  p_tenant uuid, p_ids uuid[], p_deliveries uuid[], p_attempts integer[], p_statuses integer[],
  p_durations integer[], p_headers text[], p_bodies text[], p_at timestamptz[],
  p_endpoints uuid[], p_now timestamptz, p_lease_until timestamptz, p_claim integer)
RETURNS SETOF "acme_webhooks_claimed"
LANGUAGE plpgsql AS $acme$
BEGIN
  PERFORM pg_catalog.set_config('app.tenant_id', p_tenant::text, true);
  IF COALESCE(cardinality(p_deliveries), 0) > 0 THEN
    INSERT INTO "webhook_attempts" ("id", "tenant_id", "delivery_id", "attempt", "status",
      "outcome", "error", "duration_ms", "response_headers", "response_body", "attempted_at")
    SELECT a."id", p_tenant, a."delivery_id", a."attempt", a."status", 'delivered', NULL,
      a."duration_ms", a."headers"::jsonb, a."body", a."at"
    FROM unnest(p_ids, p_deliveries, p_attempts, p_statuses, p_durations, p_headers, p_bodies,
      p_at) AS a("id", "delivery_id", "attempt", "status", "duration_ms", "headers", "body", "at");
    FOR i IN 1 .. cardinality(p_deliveries) LOOP
      UPDATE "webhook_deliveries" SET "status" = 'delivered', "next_attempt_at" = NULL,
        "lease_until" = NULL, "updated_at" = p_at[i]
      WHERE "tenant_id" = p_tenant AND "id" = p_deliveries[i];
    END LOOP;
    UPDATE "webhook_endpoints" SET "failing_since" = NULL
    WHERE "tenant_id" = p_tenant AND "id" = ANY(p_endpoints) AND "failing_since" IS NOT NULL;
  END IF;
  RETURN QUERY SELECT * FROM "acme_webhooks_claim"(p_tenant, NULL, p_now, p_lease_until, p_claim);
END
$acme$;
