-- CreateTable
CREATE TABLE "flag_environments" (
    "name" VARCHAR(40) NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "flag_environments_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "flags" (
    "id" UUID NOT NULL,
    "environment" VARCHAR(40) NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    "definition" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "flags_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "flag_tenant_overrides" (
    "flag_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "value" JSONB NOT NULL,
    "updated_by" UUID,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "flag_tenant_overrides_pkey" PRIMARY KEY ("flag_id","tenant_id")
);

-- CreateTable
CREATE TABLE "flag_segments" (
    "id" UUID NOT NULL,
    "environment" VARCHAR(40) NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    "definition" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "flag_segments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "flag_changes" (
    "id" UUID NOT NULL,
    "environment" VARCHAR(40) NOT NULL,
    "version" INTEGER NOT NULL,
    "entity" VARCHAR(20) NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    "tenant_id" UUID,
    "action" VARCHAR(20) NOT NULL,
    "actor_id" UUID,
    "before" JSONB,
    "after" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flag_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "flag_schedules" (
    "id" UUID NOT NULL,
    "environment" VARCHAR(40) NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    "run_at" TIMESTAMP(3) NOT NULL,
    "change" JSONB NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'pending',
    "error" VARCHAR(2000),
    "created_by" UUID,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "applied_at" TIMESTAMP(3),

    CONSTRAINT "flag_schedules_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "flags_environment_key_key" ON "flags"("environment", "key");

-- CreateIndex
CREATE INDEX "flag_tenant_overrides_tenant_id_idx" ON "flag_tenant_overrides"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "flag_segments_environment_key_key" ON "flag_segments"("environment", "key");

-- CreateIndex
CREATE INDEX "flag_changes_environment_version_idx" ON "flag_changes"("environment", "version");

-- CreateIndex
CREATE INDEX "flag_changes_environment_key_created_at_idx" ON "flag_changes"("environment", "key", "created_at");

-- CreateIndex
CREATE INDEX "flag_schedules_environment_status_run_at_idx" ON "flag_schedules"("environment", "status", "run_at");

-- CreateIndex
CREATE INDEX "flag_schedules_environment_key_run_at_idx" ON "flag_schedules"("environment", "key", "run_at");

-- AddForeignKey
ALTER TABLE "flag_tenant_overrides" ADD CONSTRAINT "flag_tenant_overrides_flag_id_fkey" FOREIGN KEY ("flag_id") REFERENCES "flags"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "flag_tenant_overrides" ADD CONSTRAINT "flag_tenant_overrides_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- acme: raw SQL of fragment @acme/flags
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
