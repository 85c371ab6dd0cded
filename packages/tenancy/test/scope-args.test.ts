import { describe, expect, it } from 'vitest'
import { buildScopeRules, type RuntimeDataModel, type RuntimeField } from '../src/data-model.js'
import { scopeArgs } from '../src/scope-args.js'
import { unbatched } from '../src/unique-lookups.js'

const A = '00000000-0000-4000-8000-00000000000a'
const B = '00000000-0000-4000-8000-00000000000b'

const scalar = (name: string, dbName?: string): RuntimeField => ({
  name,
  kind: 'scalar',
  type: 'String',
  ...(dbName ? { dbName } : {}),
})
const relation = (name: string, type: string): RuntimeField => ({
  name,
  kind: 'object',
  type,
  relationName: name,
})

/**
 * A small app: notes (tenant-owned) with comments and tags (tenant-owned), written by users
 * (global), plus a global lookup table and a global model that points at a tenant under another
 * field name (so it is not tenant-owned).
 */
const dataModel: RuntimeDataModel = {
  models: {
    Tenant: {
      dbName: 'tenants',
      fields: [
        scalar('id'),
        scalar('slug'),
        scalar('name'),
        relation('memberships', 'Membership'),
        relation('notes', 'Note'),
      ],
    },
    Membership: {
      dbName: 'memberships',
      fields: [
        scalar('tenantId', 'tenant_id'),
        relation('tenant', 'Tenant'),
        scalar('userId', 'user_id'),
        relation('user', 'User'),
        scalar('roles'),
      ],
    },
    User: {
      dbName: 'users',
      fields: [
        scalar('id'),
        scalar('email'),
        relation('memberships', 'Membership'),
        relation('notes', 'Note'),
      ],
    },
    Note: {
      dbName: 'notes',
      fields: [
        scalar('id'),
        scalar('tenantId', 'tenant_id'),
        relation('tenant', 'Tenant'),
        scalar('title'),
        scalar('authorId', 'author_id'),
        relation('author', 'User'),
        relation('comments', 'Comment'),
        relation('tags', 'Tag'),
      ],
    },
    Comment: {
      dbName: 'comments',
      fields: [
        scalar('id'),
        scalar('tenantId', 'tenant_id'),
        relation('tenant', 'Tenant'),
        scalar('noteId', 'note_id'),
        relation('note', 'Note'),
        scalar('body'),
      ],
    },
    Tag: {
      dbName: null,
      fields: [
        scalar('id'),
        scalar('tenantId', 'tenant_id'),
        relation('tenant', 'Tenant'),
        scalar('name'),
        relation('notes', 'Note'),
      ],
    },
    Country: { dbName: 'countries', fields: [scalar('code'), scalar('name')] },
    Subscription: {
      dbName: 'subscriptions',
      fields: [scalar('id'), scalar('billedTenantId'), relation('billedTenant', 'Tenant')],
    },
  },
}

const rules = buildScopeRules(dataModel, { tenantField: 'tenantId', tenantModel: 'Tenant' })
const scope = (model: string, operation: string, args?: Record<string, unknown>) =>
  scopeArgs(rules, model, operation, args, A)

describe('buildScopeRules', () => {
  it('marks the models with the tenant field as tenant-owned, and nothing else', () => {
    const owned = [...rules.values()].filter((rule) => rule.tenantOwned).map((rule) => rule.model)
    expect(owned.sort()).toEqual(['Comment', 'Membership', 'Note', 'Tag'])
    expect(rules.get('Tenant')).toMatchObject({ isTenantModel: true, tenantOwned: false })
    expect(rules.get('Note')).toMatchObject({
      delegate: 'note',
      table: 'notes',
      tenantColumn: 'tenant_id',
      tenantRelation: 'tenant',
    })
    expect(rules.get('Tag')?.table).toBe('Tag')
  })

  it('refuses a tenantOwnedModels entry that has no tenant field', () => {
    expect(() =>
      buildScopeRules(dataModel, {
        tenantField: 'tenantId',
        tenantModel: 'Tenant',
        tenantOwnedModels: ['Note', 'Country'],
      }),
    ).toThrow(/Country/)
  })

  it('leaves a model with the field but not listed unowned when the list is explicit', () => {
    const explicit = buildScopeRules(dataModel, {
      tenantField: 'tenantId',
      tenantModel: 'Tenant',
      tenantOwnedModels: ['Note'],
    })
    expect(explicit.get('Note')?.tenantOwned).toBe(true)
    expect(explicit.get('Comment')?.tenantOwned).toBe(false)
  })
})

describe('scopeArgs: filters', () => {
  const filtered = [
    'findFirst',
    'findFirstOrThrow',
    'findMany',
    'count',
    'aggregate',
    'groupBy',
    'updateMany',
    'updateManyAndReturn',
    'deleteMany',
  ]

  it.each(filtered)('%s gets the tenant in its where, even without arguments', (operation) => {
    expect(scope('Note', operation)?.where).toEqual({ tenantId: A })
    expect(scope('Note', operation, { where: { title: 'x' } })?.where).toEqual({
      title: 'x',
      tenantId: A,
    })
  })

  it.each(['findUnique', 'findUniqueOrThrow', 'update', 'delete', 'upsert'])(
    '%s keeps its unique key and adds the tenant next to it',
    (operation) => {
      expect(scope('Note', operation, { where: { id: 'n1' } })?.where).toEqual({
        id: 'n1',
        tenantId: A,
      })
    },
  )

  it('overrides a tenant the where names, at the top level', () => {
    expect(scope('Note', 'findMany', { where: { tenantId: B } })?.where).toEqual({ tenantId: A })
    expect(scope('Note', 'deleteMany', { where: { tenantId: { in: [A, B] } } })?.where).toEqual({
      tenantId: A,
    })
  })

  it('ANDs the tenant with OR / NOT / relation filters, which stay as they were', () => {
    const where = { OR: [{ tenantId: B }, { title: 'x' }], NOT: { tenantId: A } }
    expect(scope('Note', 'findMany', { where })?.where).toEqual({ ...where, tenantId: A })
    const compound = { tenantId_userId: { tenantId: B, userId: 'u1' } }
    expect(scope('Membership', 'findUnique', { where: compound })?.where).toEqual({
      ...compound,
      tenantId: A,
    })
  })

  it('keeps the other arguments of a read', () => {
    const args = {
      where: { title: 'x' },
      select: { id: true },
      orderBy: { title: 'asc' },
      take: 5,
      skip: 2,
    }
    expect(scope('Note', 'findMany', args)).toEqual({ ...args, where: { title: 'x', tenantId: A } })
    expect(scope('Note', 'groupBy', { by: ['title'], _count: true })).toEqual({
      by: ['title'],
      _count: true,
      where: { tenantId: A },
    })
  })

  it('never mutates the caller’s arguments', () => {
    const args = {
      where: { id: 'n1', tenantId: B },
      data: {
        tenantId: B,
        title: 't',
        comments: { create: [{ body: 'c', tenantId: B }], connect: [{ id: 'c1' }] },
      },
    }
    const copy = structuredClone(args)
    scope('Note', 'update', args)
    scope('Note', 'create', { data: args.data })
    scope('Note', 'upsert', { where: args.where, create: args.data, update: args.data })
    expect(args).toEqual(copy)
  })
})

describe('scopeArgs: creates', () => {
  it('create sets the tenant and overrides a smuggled one', () => {
    expect(scope('Note', 'create', { data: { title: 't', tenantId: B } })).toEqual({
      data: { title: 't', tenantId: A },
    })
    expect(scope('Note', 'create', { data: { title: 't' } })?.data).toEqual({
      title: 't',
      tenantId: A,
    })
  })

  it('create with relation objects ("checked" input) connects the tenant instead', () => {
    const data = { title: 't', tenant: { connect: { id: B } }, author: { connect: { id: 'u1' } } }
    expect(scope('Note', 'create', { data })?.data).toEqual({
      title: 't',
      tenant: { connect: { id: A } },
      author: { connect: { id: 'u1' } },
    })
    // A tenant created inline is not a way out either.
    const inline = { title: 't', tenant: { create: { id: B, name: 'B', slug: 'b' } } }
    expect(scope('Note', 'create', { data: inline })?.data).toEqual({
      title: 't',
      tenant: { connect: { id: A } },
    })
  })

  it('create keeps the scalar form when the caller used it, next to nested children', () => {
    // Unchecked input: foreign keys as scalars, children (back-relations) as nested writes.
    const data = {
      title: 't',
      tenantId: B,
      authorId: 'u1',
      comments: { create: [{ body: 'c', tenantId: B }] },
    }
    expect(scope('Note', 'create', { data })?.data).toEqual({
      title: 't',
      tenantId: A,
      authorId: 'u1',
      comments: { create: [{ body: 'c', tenantId: A }] },
    })
  })

  it.each(['createMany', 'createManyAndReturn'])('%s sets the tenant on every row', (operation) => {
    const data = [{ title: 'a', tenantId: B }, { title: 'b' }, { title: 'c', tenant: 'x' }]
    expect(scope('Note', operation, { data, skipDuplicates: true })).toEqual({
      data: [
        { title: 'a', tenantId: A },
        { title: 'b', tenantId: A },
        { title: 'c', tenantId: A },
      ],
      skipDuplicates: true,
    })
    expect(scope('Note', operation, { data: { title: 'one', tenantId: B } })?.data).toEqual({
      title: 'one',
      tenantId: A,
    })
  })

  it('upsert scopes its where, creates in the tenant and never moves the row', () => {
    expect(
      scope('Note', 'upsert', {
        where: { id: 'n1' },
        create: { id: 'n1', title: 't', tenantId: B },
        update: { title: 'u', tenantId: B, tenant: { connect: { id: B } } },
      }),
    ).toEqual({
      where: { id: 'n1', tenantId: A },
      create: { id: 'n1', title: 't', tenantId: A },
      update: { title: 'u' },
    })
  })
})

describe('scopeArgs: updates', () => {
  it.each(['update', 'updateMany', 'updateManyAndReturn'])(
    '%s strips any change of the tenant',
    (operation) => {
      const scoped = scope('Note', operation, {
        where: { id: 'n1' },
        data: { title: 'u', tenantId: B, tenant: { connect: { id: B } } },
      })
      expect(scoped).toEqual({ where: { id: 'n1', tenantId: A }, data: { title: 'u' } })
      const set = scope('Note', operation, { where: {}, data: { tenantId: { set: B } } })
      expect(set?.data).toEqual({})
    },
  )

  it('does not let a nested write reach the tenant through its relation', () => {
    const scoped = scope('Note', 'update', {
      where: { id: 'n1' },
      data: { tenant: { update: { name: 'pwned' } } },
    })
    expect(scoped?.data).toEqual({})
  })
})

describe('scopeArgs: nested writes to a tenant-owned relation', () => {
  const update = (data: Record<string, unknown>) =>
    scope('Note', 'update', { where: { id: 'n1' }, data })?.data

  it('connect, set, disconnect and delete get the tenant next to their unique key', () => {
    expect(
      update({
        tags: {
          connect: [{ id: 't1' }, { id: 't2', tenantId: B }],
          set: [{ id: 't3' }],
          disconnect: [{ id: 't4' }],
        },
        comments: { delete: [{ id: 'c1' }], connect: { id: 'c2' } },
      }),
    ).toEqual({
      tags: {
        connect: [
          { id: 't1', tenantId: A },
          { id: 't2', tenantId: A },
        ],
        set: [{ id: 't3', tenantId: A }],
        disconnect: [{ id: 't4', tenantId: A }],
      },
      comments: { delete: [{ id: 'c1', tenantId: A }], connect: { id: 'c2', tenantId: A } },
    })
  })

  it('a to-one connect is scoped, and to-one disconnect / delete flags stay flags', () => {
    expect(
      scope('Comment', 'update', { where: { id: 'c1' }, data: { note: { connect: { id: 'n9' } } } })
        ?.data,
    ).toEqual({
      note: { connect: { id: 'n9', tenantId: A } },
    })
    expect(
      scope('Comment', 'update', { where: { id: 'c1' }, data: { note: { disconnect: true } } })
        ?.data,
    ).toEqual({
      note: { disconnect: true },
    })
    expect(
      scope('Comment', 'create', { data: { body: 'b', note: { connect: { id: 'n9' } } } })?.data,
    ).toEqual({
      body: 'b',
      note: { connect: { id: 'n9', tenantId: A } },
      tenant: { connect: { id: A } },
    })
  })

  it('connectOrCreate finds only in the tenant and creates in it', () => {
    expect(
      update({
        tags: {
          connectOrCreate: [
            { where: { id: 't1' }, create: { id: 't1', name: 'x', tenantId: B } },
            { where: { id: 't2', tenantId: B }, create: { name: 'y' } },
          ],
        },
      }),
    ).toEqual({
      tags: {
        connectOrCreate: [
          { where: { id: 't1', tenantId: A }, create: { id: 't1', name: 'x', tenantId: A } },
          { where: { id: 't2', tenantId: A }, create: { name: 'y', tenantId: A } },
        ],
      },
    })
  })

  it('nested create and createMany create in the tenant', () => {
    expect(
      update({
        comments: {
          create: [{ body: 'a', tenantId: B }, { body: 'b' }],
          createMany: { data: [{ body: 'c', tenantId: B }], skipDuplicates: true },
        },
      }),
    ).toEqual({
      comments: {
        create: [
          { body: 'a', tenantId: A },
          { body: 'b', tenantId: A },
        ],
        createMany: { data: [{ body: 'c', tenantId: A }], skipDuplicates: true },
      },
    })
  })

  it('nested update and updateMany are filtered and cannot move rows', () => {
    expect(
      update({
        comments: {
          update: [{ where: { id: 'c1' }, data: { body: 'x', tenantId: B } }],
          updateMany: { where: { body: 'old' }, data: { body: 'new', tenantId: B } },
        },
      }),
    ).toEqual({
      comments: {
        update: [{ where: { id: 'c1', tenantId: A }, data: { body: 'x' } }],
        updateMany: { where: { body: 'old', tenantId: A }, data: { body: 'new' } },
      },
    })
  })

  it('a to-one nested update is filtered too, in both of its shapes', () => {
    const wrapped = scope('Comment', 'update', {
      where: { id: 'c1' },
      data: { note: { update: { data: { title: 'x', tenantId: B } } } },
    })
    expect(wrapped?.data).toEqual({
      note: { update: { where: { tenantId: A }, data: { title: 'x' } } },
    })
    const shorthand = scope('Comment', 'update', {
      where: { id: 'c1' },
      data: { note: { update: { title: 'x', tenantId: B } } },
    })
    // The shorthand follows the comment's foreign key, which could name another tenant's note.
    expect(shorthand?.data).toEqual({
      note: { update: { where: { tenantId: A }, data: { title: 'x' } } },
    })
  })

  it('deleteMany is filtered, including the empty filter that would delete every row', () => {
    expect(update({ comments: { deleteMany: {} } })).toEqual({
      comments: { deleteMany: { tenantId: A } },
    })
    expect(update({ comments: { deleteMany: [{ body: 'x' }, { tenantId: B }] } })).toEqual({
      comments: { deleteMany: [{ body: 'x', tenantId: A }, { tenantId: A }] },
    })
  })

  it('nested upsert is filtered, creates in the tenant and never moves the row', () => {
    expect(
      update({
        comments: {
          upsert: [
            {
              where: { id: 'c1' },
              create: { body: 'n', tenantId: B },
              update: { body: 'u', tenantId: B },
            },
          ],
        },
      }),
    ).toEqual({
      comments: {
        upsert: [
          {
            where: { id: 'c1', tenantId: A },
            create: { body: 'n', tenantId: A },
            update: { body: 'u' },
          },
        ],
      },
    })
  })

  it('reaches writes nested two levels deep', () => {
    expect(
      scope('Note', 'create', {
        data: {
          title: 't',
          tenantId: B,
          comments: {
            create: [{ body: 'c', tenantId: B }],
          },
          tags: { connectOrCreate: { where: { id: 'g' }, create: { name: 'g', tenantId: B } } },
        },
      })?.data,
    ).toEqual({
      title: 't',
      tenantId: A,
      comments: { create: [{ body: 'c', tenantId: A }] },
      tags: {
        connectOrCreate: { where: { id: 'g', tenantId: A }, create: { name: 'g', tenantId: A } },
      },
    })
    expect(
      update({
        comments: {
          update: [{ where: { id: 'c1' }, data: { note: { connect: { id: 'n2' } } } }],
        },
      }),
    ).toEqual({
      comments: {
        update: [
          {
            where: { id: 'c1', tenantId: A },
            data: { note: { connect: { id: 'n2', tenantId: A } } },
          },
        ],
      },
    })
  })

  it('scopes nested writes under a model that is not tenant-owned', () => {
    const scoped = scope('User', 'update', {
      where: { id: 'u1' },
      data: {
        email: 'x@y.test',
        memberships: {
          create: { tenantId: B, roles: ['owner'] },
          updateMany: { where: {}, data: { roles: ['owner'] } },
          deleteMany: {},
        },
        notes: { connect: [{ id: 'n1' }] },
      },
    })
    expect(scoped).toEqual({
      where: { id: 'u1' },
      data: {
        email: 'x@y.test',
        memberships: {
          create: { tenantId: A, roles: ['owner'] },
          updateMany: { where: { tenantId: A }, data: { roles: ['owner'] } },
          deleteMany: { tenantId: A },
        },
        notes: { connect: [{ id: 'n1', tenantId: A }] },
      },
    })
  })
})

describe('scopeArgs: the tenant model and unowned models', () => {
  it('shows the tenant model as one row: the current tenant, by id', () => {
    for (const operation of ['findMany', 'findFirst', 'count', 'updateMany', 'deleteMany']) {
      expect(scope('Tenant', operation)?.where, operation).toEqual({ id: A })
    }
    for (const operation of ['findUnique', 'update', 'delete', 'upsert']) {
      expect(scope('Tenant', operation, { where: { id: B } })?.where, operation).toEqual({ id: A })
    }
    expect(scope('Tenant', 'findUnique', { where: { slug: 'b' } })?.where).toEqual({
      slug: 'b',
      id: A,
    })
  })

  it('scopes writes nested from the tenant into its tenant-owned children', () => {
    const scoped = scope('Tenant', 'update', {
      where: { id: A },
      data: { notes: { deleteMany: {}, create: { title: 't', tenantId: B } } },
    })
    expect(scoped?.data).toEqual({
      notes: { deleteMany: { tenantId: A }, create: { title: 't', tenantId: A } },
    })
  })

  it('scopes writes that reach the tenant model from an unowned model by the tenant id', () => {
    const scoped = scope('Subscription', 'update', {
      where: { id: 's1' },
      data: {
        billedTenant: {
          connect: { id: B },
          update: { data: { name: 'pwned' } },
        },
      },
    })
    expect(scoped?.data).toEqual({
      billedTenant: {
        connect: { id: A },
        update: { where: { id: A }, data: { name: 'pwned' } },
      },
    })
    const shorthand = scope('Subscription', 'update', {
      where: { id: 's1' },
      data: { billedTenant: { update: { name: 'pwned' } } },
    })
    expect(shorthand?.data).toEqual({
      billedTenant: { update: { where: { id: A }, data: { name: 'pwned' } } },
    })
    const upsert = scope('Subscription', 'update', {
      where: { id: 's1' },
      data: {
        billedTenant: { upsert: { create: { name: 'n', slug: 'n' }, update: { name: 'x' } } },
      },
    })
    expect(upsert?.data).toEqual({
      billedTenant: {
        upsert: { where: { id: A }, create: { name: 'n', slug: 'n' }, update: { name: 'x' } },
      },
    })
  })

  it('passes a model that is not tenant-owned through unchanged', () => {
    const args = { where: { code: 'de' }, data: { name: 'Germany' } }
    for (const operation of ['findMany', 'findUnique', 'update', 'delete', 'create']) {
      expect(scope('Country', operation, args), operation).toEqual(args)
    }
    const upsert = { where: { code: 'de' }, create: { code: 'de' }, update: { name: 'DE' } }
    expect(scope('Country', 'upsert', upsert)).toEqual(upsert)
    expect(scope('Country', 'findMany')).toEqual({})
    // A model the rules do not know at all is left alone (the doctor reports unscoped tables).
    const unknown = { where: { x: 1 } }
    expect(scope('Unknown', 'findMany', unknown)).toBe(unknown)
  })

  it('refuses an operation it does not know on a tenant-owned model instead of passing it through', () => {
    expect(() => scope('Note', 'findRaw', { filter: {} })).toThrow(/findRaw/)
    expect(() => scope('Tenant', 'aggregateRaw', {})).toThrow(/aggregateRaw/)
    expect(scope('Country', 'findRaw', { filter: {} })).toEqual({ filter: {} })
  })
})

describe('unique lookups on the tenant client (never batched across requests)', () => {
  const rule = (model: string) => {
    const found = rules.get(model)
    if (!found) throw new Error(model)
    return found
  }

  it('sends findUnique as findFirst and findUniqueOrThrow as findFirstOrThrow, with the same where', () => {
    const args = scope('Note', 'findUnique', { where: { id: 'n1' }, select: { id: true } })
    expect(unbatched(rule('Note'), 'findUnique', args)).toEqual({
      operation: 'findFirst',
      args: { where: { id: 'n1', tenantId: A }, select: { id: true } },
    })
    expect(unbatched(rule('Note'), 'findUniqueOrThrow', args).operation).toBe('findFirstOrThrow')
  })

  it('spreads a compound unique key into field conditions, next to the tenant and any AND', () => {
    const compound = { tenantId_userId: { tenantId: B, userId: 'u1' } }
    const args = scope('Membership', 'findUnique', { where: { ...compound, AND: { roles: 'x' } } })
    expect(unbatched(rule('Membership'), 'findUnique', args).args?.where).toEqual({
      tenantId: A,
      AND: [{ roles: 'x' }, { tenantId: B, userId: 'u1' }],
    })
  })

  it('leaves relation filters and logical operators alone, even when they look like a key', () => {
    const where = { id: 'n1', author: { id: 'u1' }, NOT: { title: 'x' } }
    expect(unbatched(rule('Note'), 'findUnique', { where }).args).toEqual({ where })
  })

  it('leaves every other operation as it is', () => {
    for (const operation of ['findFirst', 'findMany', 'update', 'delete', 'upsert', 'count']) {
      const args = { where: { id: 'n1' } }
      expect(unbatched(rule('Note'), operation, args)).toEqual({ operation, args })
    }
  })
})
