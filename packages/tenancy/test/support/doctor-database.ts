import { TEST_DATABASE_URL } from '@acme/test-support'
import pg from 'pg'
import type { DoctorOptions } from '../../src/services/doctor.js'

export interface RoleConnection {
  query: DoctorOptions['query']
  client: pg.Client
  close(): Promise<void>
}

/** A connection to `databaseUrl` as `role` (the test cluster trusts local connections). */
export async function connectAs(databaseUrl: string, role: string): Promise<RoleConnection> {
  const url = new URL(databaseUrl)
  url.username = role
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  return {
    client,
    query: async <Row>(sql: string, params: readonly unknown[]) =>
      (await client.query(sql, [...params])).rows as Row[],
    close: () => client.end(),
  }
}

/** Runs statements on the cluster's maintenance database, for roles (cluster-wide objects). */
export async function onCluster(statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}

/** The isolation policy the tenancy migrations create, on `column`. */
export function isolationPolicy(table: string, column = 'tenant_id'): string {
  const tenant = `NULLIF(current_setting('app.tenant_id', true), '')::uuid`
  return `CREATE POLICY acme_tenant_isolation ON ${table} USING ("${column}" = ${tenant}) WITH CHECK ("${column}" = ${tenant})`
}

/** RLS enabled and forced with the isolation policy: a table as the doctor wants it. */
export function isolatedTable(table: string, extraColumns = ''): string[] {
  return [
    `CREATE TABLE ${table} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL${extraColumns})`,
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
    isolationPolicy(table),
  ]
}

/** Memberships: a policy table, scoped by a policy of its own (its tenant or its user). */
export function membershipsTable(table: string): string[] {
  const setting = (name: string) => `NULLIF(current_setting('${name}', true), '')::uuid`
  return [
    `CREATE TABLE ${table} (tenant_id uuid NOT NULL, user_id uuid NOT NULL, PRIMARY KEY (tenant_id, user_id))`,
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY memberships_of_tenant_or_user ON ${table} USING (tenant_id = ${setting('app.tenant_id')} OR user_id = ${setting('app.user_id')})`,
  ]
}
