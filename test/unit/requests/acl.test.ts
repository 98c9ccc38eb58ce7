/**
 * The pure ACL check (server/requests/acl.ts) and where the leader's builder and the
 * read path apply it: every write and read op, with the permission it needs present
 * or absent, for each scheme (world, auth, digest, ip), multi ops included.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ErrorCode, Perm, makeZxid, type Acl, type Txn } from '../../../protocol/index.js'
import {
  SUPER_ID,
  aclPermits,
  answerRead,
  fixupAcl,
  ipMatches,
  TxnBuilder,
  type AuthId,
  type WriteRequest,
} from '../../../server/requests/index.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { DEFAULT_CONFIG, txnBuilderOptionsFor } from '../../../server/runtime/config.js'
import { authenticate, digestOf } from '../../../server/runtime/auth.js'

const bytes = (s: string) => new TextEncoder().encode(s)
const alice: AuthId = { scheme: 'digest', id: digestOf('alice:secret') }
const mallory: AuthId = { scheme: 'digest', id: digestOf('alice:guess') }
const aliceIp: AuthId = { scheme: 'ip', id: '10.1.2.3' }
const otherIp: AuthId = { scheme: 'ip', id: '192.168.0.9' }

describe('digest identities', () => {
  it("are ZooKeeper's user:base64(sha1(user:password))", () => {
    // Reference value: ZooKeeper's DigestAuthenticationProvider.generateDigest("super:test").
    expect(digestOf('super:test')).toBe('super:D/InIHSb7yEEbrWz8b9l71RjZJU=')
  })
  it('refuse malformed credentials and unknown schemes alike, never saying whether a user exists', () => {
    for (const [scheme, credentials] of [
      ['digest', 'nocolonSECRET'],
      ['digest', ':SECRET'],
      ['digest', 'user:'],
      ['ip', '1.2.3.4'],
      ['sasl', 'u:SECRET'],
    ] as const) {
      const result = authenticate(scheme, credentials, '')
      expect(result).toMatchObject({ code: ErrorCode.AUTH_FAILED })
      expect(JSON.stringify(result)).not.toContain('SECRET')
    }
    // A wrong password is not a failure: it is an identity no ACL names.
    expect(authenticate('digest', 'alice:guess', '')).toEqual([mallory])
  })
  it('grant the super identity only for the configured super digest', () => {
    const superDigest = digestOf('root:pw')
    expect(authenticate('digest', 'root:pw', superDigest)).toContainEqual(SUPER_ID)
    expect(authenticate('digest', 'root:px', superDigest)).not.toContainEqual(SUPER_ID)
  })
})

describe('aclPermits', () => {
  const scheme = fc.constantFrom('world', 'digest', 'ip', 'x509')
  const id = fc.constantFrom('anyone', 'a:1', 'b:2', '10.0.0.1', 'cn=x')
  const entry = fc.record({ perms: fc.integer({ min: 0, max: 31 }), scheme, id })
  const ident = fc.record({ scheme, id })
  const perm = fc.constantFrom(Perm.READ, Perm.WRITE, Perm.CREATE, Perm.DELETE, Perm.ADMIN)

  it('allows exactly when an entry with the bit names the world or one identity', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 5 }),
        fc.array(ident),
        perm,
        (acl, ids, p) => {
          const model = acl.some(
            (e) =>
              (e.perms & p) !== 0 &&
              ((e.scheme === 'world' && e.id === 'anyone') ||
                ids.some((i) => i.scheme === e.scheme && i.id === e.id)),
          )
          expect(aclPermits(acl, p, ids)).toBe(model)
        },
      ),
    )
  })
  it('lets the super identity and an empty ACL through everything', () => {
    fc.assert(
      fc.property(fc.array(entry), perm, (acl, p) => {
        expect(aclPermits(acl, p, [SUPER_ID])).toBe(true)
        expect(aclPermits([], p, [])).toBe(true)
      }),
    )
  })
  it('matches ip entries by address or IPv4 range', () => {
    expect(ipMatches('10.1.2.3', '10.0.0.0/8')).toBe(true)
    expect(ipMatches('::ffff:10.1.2.3', '10.1.2.0/24')).toBe(true)
    expect(ipMatches('11.1.2.3', '10.0.0.0/8')).toBe(false)
    expect(ipMatches('127.0.0.1', '127.0.0.1')).toBe(true)
    expect(ipMatches('::1', '::1')).toBe(true)
  })
})

describe('fixupAcl', () => {
  it("expands 'auth' into the session's authenticated identities, not its address", () => {
    expect(fixupAcl('/n', [{ perms: Perm.ALL, scheme: 'auth', id: '' }], [aliceIp, alice])).toEqual(
      [{ perms: Perm.ALL, scheme: 'digest', id: alice.id }],
    )
  })
  it('refuses auth without identity, unknown schemes, bad ids and empty lists', () => {
    for (const acl of [
      [{ perms: Perm.ALL, scheme: 'auth', id: '' }],
      [{ perms: Perm.ALL, scheme: 'kerberos', id: 'x' }],
      [{ perms: Perm.ALL, scheme: 'world', id: 'someone' }],
      [{ perms: Perm.ALL, scheme: 'digest', id: 'nohash' }],
      [{ perms: Perm.ALL, scheme: 'ip', id: 'not-an-ip' }],
      [],
    ] as Acl[][])
      expect(fixupAcl('/n', acl, [aliceIp])).toMatchObject({ code: ErrorCode.INVALID_ACL })
  })
})

/** SCHEMES maps each scheme to: the ACL entry naming the allowed identity, the identities allowed, and a stranger's. */
const SCHEMES: Record<string, { entry: Acl; allowed: AuthId[]; stranger: AuthId[] }> = {
  world: { entry: { perms: 0, scheme: 'world', id: 'anyone' }, allowed: [otherIp], stranger: [] },
  // 'auth' is expanded at create time into the creator's digest: see the setup below.
  auth: {
    entry: { perms: 0, scheme: 'auth', id: '' },
    allowed: [aliceIp, alice],
    stranger: [aliceIp, mallory],
  },
  digest: {
    entry: { perms: 0, scheme: 'digest', id: alice.id },
    allowed: [otherIp, alice],
    stranger: [otherIp, mallory],
  },
  ip: {
    entry: { perms: 0, scheme: 'ip', id: '10.0.0.0/8' },
    allowed: [aliceIp],
    stranger: [otherIp, alice],
  },
}

/** OPS are the write ops, each with the node whose ACL is checked (the parent `/p` or the node `/p/n`) and the bit. */
const WRITE_OPS: { name: string; perm: number; request: WriteRequest }[] = [
  {
    name: 'create',
    perm: Perm.CREATE,
    request: { op: 'create', path: '/p/new', data: bytes(''), mode: 'persistent' },
  },
  { name: 'delete', perm: Perm.DELETE, request: { op: 'delete', path: '/p/n', version: -1 } },
  {
    name: 'set',
    perm: Perm.WRITE,
    request: { op: 'set', path: '/p/n', data: bytes('x'), version: -1 },
  },
  {
    name: 'setAcl',
    perm: Perm.ADMIN,
    request: {
      op: 'setAcl',
      path: '/p/n',
      acl: [{ perms: Perm.ALL, scheme: 'world', id: 'anyone' }],
      version: -1,
    },
  },
  {
    name: 'multi create',
    perm: Perm.CREATE,
    request: {
      op: 'multi',
      ops: [{ op: 'create', path: '/p/new', data: bytes(''), mode: 'persistent' }],
    },
  },
  {
    name: 'multi delete',
    perm: Perm.DELETE,
    request: { op: 'multi', ops: [{ op: 'delete', path: '/p/n', version: -1 }] },
  },
  {
    name: 'multi set',
    perm: Perm.WRITE,
    request: { op: 'multi', ops: [{ op: 'set', path: '/p/n', data: bytes('x'), version: -1 }] },
  },
  {
    name: 'multi check',
    perm: Perm.READ,
    request: { op: 'multi', ops: [{ op: 'check', path: '/p/n', version: -1 }] },
  },
]

/** setup builds /p and /p/n, both with `acl` (created by alice from 10.1.2.3 as super, so 'auth' expands to her digest). */
function setup(acl: Acl) {
  const tree = new DataTree()
  const builder = new TxnBuilder(tree, txnBuilderOptionsFor(DEFAULT_CONFIG))
  let counter = 0
  const run = (request: WriteRequest, ids: AuthId[]): Txn => {
    counter += 1
    const txn = builder.prepare(
      request,
      { zxid: makeZxid(1, counter), timeMs: 0, sessionId: 1n, xid: counter },
      ids,
    )
    tree.apply(txn)
    builder.onApplied(txn.zxid)
    return txn
  }
  for (const path of ['/p', '/p/n']) {
    const txn = run({ op: 'create', path, data: bytes('d'), mode: 'persistent', acl: [acl] }, [
      aliceIp,
      alice,
      // Super, so /p/n can be made under a /p without CREATE; 'auth' does not expand to it.
      SUPER_ID,
    ])
    expect(txn.op.type).toBe('create')
  }
  return { tree, run }
}

const errorOf = (txn: Txn) => (txn.op.type === 'error' ? txn.op.code : ErrorCode.OK)

describe('the leader checks each write where ZooKeeper does', () => {
  for (const [scheme, { entry, allowed, stranger }] of Object.entries(SCHEMES)) {
    for (const op of WRITE_OPS) {
      it(`${op.name} needs ${op.perm} (${scheme})`, () => {
        const granted = setup({ ...entry, perms: Perm.ALL })
        expect(errorOf(granted.run(op.request, allowed))).toBe(ErrorCode.OK)
        const withheld = setup({ ...entry, perms: Perm.ALL & ~op.perm })
        expect(errorOf(withheld.run(op.request, allowed))).toBe(ErrorCode.NO_AUTH)
        if (scheme !== 'world') {
          const strangers = setup({ ...entry, perms: Perm.ALL })
          expect(errorOf(strangers.run(op.request, stranger))).toBe(ErrorCode.NO_AUTH)
        }
        // The super user passes whatever the ACL says.
        const superUser = setup({ ...entry, perms: 0 })
        expect(errorOf(superUser.run(op.request, [SUPER_ID]))).toBe(ErrorCode.OK)
      })
    }
  }

  it('setAcl checks aversion and bumps it', () => {
    const { run, tree } = setup({ perms: Perm.ALL, scheme: 'world', id: 'anyone' })
    const acl = [{ perms: Perm.READ, scheme: 'world', id: 'anyone' }]
    expect(errorOf(run({ op: 'setAcl', path: '/p/n', acl, version: 3 }, []))).toBe(
      ErrorCode.BAD_VERSION,
    )
    expect(errorOf(run({ op: 'setAcl', path: '/p/n', acl, version: 0 }, []))).toBe(ErrorCode.OK)
    expect(tree.stat('/p/n')?.aversion).toBe(1)
    expect(tree.getNode('/p/n')?.acl).toEqual(acl)
    // Now read-only: a set is refused.
    expect(errorOf(run({ op: 'set', path: '/p/n', data: bytes('x'), version: -1 }, []))).toBe(
      ErrorCode.NO_AUTH,
    )
  })

  it("refuses 'auth' in an ACL from a session without an authenticated identity", () => {
    const { run } = setup({ perms: Perm.ALL, scheme: 'world', id: 'anyone' })
    const txn = run(
      {
        op: 'create',
        path: '/p/x',
        data: bytes(''),
        mode: 'persistent',
        acl: [{ perms: Perm.ALL, scheme: 'auth', id: '' }],
      },
      [otherIp],
    )
    expect(errorOf(txn)).toBe(ErrorCode.INVALID_ACL)
  })
})

describe('reads are checked where ZooKeeper 3.8 checks them', () => {
  const READS = [
    { op: 'get', perm: Perm.READ },
    { op: 'children', perm: Perm.READ },
    { op: 'childCount', perm: Perm.READ },
    { op: 'getAcl', perm: Perm.READ | Perm.ADMIN },
  ] as const
  for (const [scheme, { entry, allowed, stranger }] of Object.entries(SCHEMES)) {
    for (const read of READS) {
      it(`${read.op} (${scheme})`, () => {
        const request = { op: read.op, path: '/p/n', watch: false } as never
        const granted = setup({ ...entry, perms: Perm.ALL })
        expect(answerRead(granted.tree, request, 1n, allowed).err).toBe(ErrorCode.OK)
        const withheld = setup({ ...entry, perms: Perm.ALL & ~read.perm })
        expect(answerRead(withheld.tree, request, 1n, allowed).err).toBe(ErrorCode.NO_AUTH)
        if (scheme !== 'world')
          expect(answerRead(granted.tree, request, 1n, stranger).err).toBe(ErrorCode.NO_AUTH)
        // exists is not checked (ZooKeeper 3.8).
        expect(
          answerRead(withheld.tree, { op: 'exists', path: '/p/n', watch: false }, 1n, stranger).err,
        ).toBe(ErrorCode.OK)
      })
    }
  }

  it('getAcl with READ but not ADMIN masks digest hashes (CVE-2019-0201)', () => {
    const { tree } = setup({ perms: Perm.READ, scheme: 'digest', id: alice.id })
    const reply = answerRead(tree, { op: 'getAcl', path: '/p/n' }, 1n, [alice])
    expect(reply.result).toMatchObject({ acl: [{ scheme: 'digest', id: 'alice:x' }] })
  })
})
