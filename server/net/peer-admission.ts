/**
 * HandshakeSlots: who may hold an unauthenticated connection on the peer port.
 *
 * Every inbound TCP connection holds a slot from the moment it is accepted until it
 * authenticates (or closes). Slots are bounded three ways, so that nobody who merely
 * reaches the peer port can keep the members from linking:
 *
 * - per remote address: `perAddressMax` for a stranger address, `memberPerAddressMax`
 *   for an address the config lists as a member's (its host, or the address it is dialed at);
 * - strangers together: all connections from non-member addresses share `strangersMax`.
 *   Member addresses are not in that pool, so a stranger from another address can
 *   neither take nor evict a slot of a member's address: that is the members' reserve;
 * - when a bound is reached, the newcomer takes the slot of the oldest unproven
 *   connection under that bound: first those that sent nothing acceptable (stage
 *   'opening'), then those that sent a hello that passed checkHello ('hello': the member
 *   list is no secret). A connection whose upgrade request carried a valid admission
 *   token ('vouched': peer-admission-token.ts, an HMAC over the shared secret) is never
 *   displaced; only when every slot under the bound is vouched is the newcomer refused.
 *   So a stranger cannot sit on a slot: it is displaced by the next arrival, or cut by
 *   the handshake deadline (PeerLinks' timer). A member's connection is vouched as soon
 *   as its upgrade request is read, before any round trip.
 *
 * Pure bookkeeping: no sockets, no timers; PeerLinks acts on the decisions.
 */

/** HandshakeStage is how far an unauthenticated connection got: nothing acceptable yet, a hello that passed checkHello, or a valid admission token. */
export type HandshakeStage = 'opening' | 'hello' | 'vouched'

/** HandshakeLimits are the bounds on pending handshakes; all at least 1. */
export interface HandshakeLimits {
  /** perAddressMax bounds pending handshakes from one non-member address. */
  perAddressMax: number
  /** memberPerAddressMax bounds pending handshakes from one member address. */
  memberPerAddressMax: number
  /** strangersMax bounds pending handshakes from all non-member addresses together. */
  strangersMax: number
}

/** PendingHandshake is one slot: an accepted connection not yet authenticated. */
export interface PendingHandshake {
  /** address is the remote IP address, normalized (see normalizeAddress). */
  readonly address: string
  /** fromMemberAddress tells whether `address` is one the config lists for a member. */
  readonly fromMemberAddress: boolean
  stage: HandshakeStage
}

/** AdmissionLimit names the bound that was reached: one address's slots, or the strangers' pool. */
export type AdmissionLimit = 'perAddress' | 'strangers'

/** Admission is the decision on a new connection: a slot (maybe taken from an evicted connection), or a refusal. */
export type Admission =
  | { admitted: true; slot: PendingHandshake; evicted?: PendingHandshake; limit?: AdmissionLimit }
  | { admitted: false; limit: AdmissionLimit }

/** HandshakeSlotCounts are the occupied slots, for /status and tests. */
export interface HandshakeSlotCounts {
  pending: number
  strangers: number
  addresses: number
}

/**
 * normalizeAddress turns a socket's remote address into the form member addresses are
 * kept in: an IPv4-mapped IPv6 address ("::ffff:10.0.0.1") becomes plain IPv4, and
 * IPv6 is lower-cased.
 */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '?'
  const lower = address.toLowerCase()
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice('::ffff:'.length) : lower
}

/** HandshakeSlots tracks the slots and decides admissions; see the module comment for the rules. */
export class HandshakeSlots {
  private readonly byAddress = new Map<string, Set<PendingHandshake>>()
  // Sets keep insertion order: the first 'opening' entry met is the oldest.
  private readonly strangers = new Set<PendingHandshake>()

  constructor(
    private readonly limits: HandshakeLimits,
    private readonly isMemberAddress: (address: string) => boolean,
  ) {}

  /**
   * admit decides on a connection from `address` (normalized). When it evicts, the
   * evicted slot is already released: the caller must close that connection.
   */
  admit(address: string): Admission {
    const fromMemberAddress = this.isMemberAddress(address)
    const own = this.byAddress.get(address)
    let evicted: PendingHandshake | undefined
    let limit: AdmissionLimit | undefined
    if (
      (own?.size ?? 0) >=
      (fromMemberAddress ? this.limits.memberPerAddressMax : this.limits.perAddressMax)
    ) {
      limit = 'perAddress'
      evicted = oldestUnproven(own)
      if (evicted === undefined) return { admitted: false, limit }
    } else if (!fromMemberAddress && this.strangers.size >= this.limits.strangersMax) {
      limit = 'strangers'
      evicted = oldestUnproven(this.strangers)
      if (evicted === undefined) return { admitted: false, limit }
    }
    if (evicted !== undefined) this.release(evicted)
    const slot: PendingHandshake = { address, fromMemberAddress, stage: 'opening' }
    const set = this.byAddress.get(address) ?? new Set<PendingHandshake>()
    set.add(slot)
    this.byAddress.set(address, set)
    if (!fromMemberAddress) this.strangers.add(slot)
    return evicted === undefined
      ? { admitted: true, slot }
      : { admitted: true, slot, evicted, ...(limit === undefined ? {} : { limit }) }
  }

  /** helloAccepted marks a slot whose connection sent a hello that passed checkHello: displaced only after the silent ones. */
  helloAccepted(slot: PendingHandshake): void {
    if (slot.stage === 'opening') slot.stage = 'hello'
  }

  /** vouch marks a slot whose upgrade request carried a valid admission token: it is never displaced. */
  vouch(slot: PendingHandshake): void {
    slot.stage = 'vouched'
  }

  /** release frees a slot (the connection authenticated or closed). Idempotent. */
  release(slot: PendingHandshake): void {
    const set = this.byAddress.get(slot.address)
    if (set === undefined || !set.delete(slot)) return
    if (set.size === 0) this.byAddress.delete(slot.address)
    this.strangers.delete(slot)
  }

  /** counts tells how many slots are held, by strangers, and from how many addresses. */
  counts(): HandshakeSlotCounts {
    let pending = 0
    for (const set of this.byAddress.values()) pending += set.size
    return { pending, strangers: this.strangers.size, addresses: this.byAddress.size }
  }
}

/** oldestUnproven picks whom a newcomer displaces: the oldest silent connection, else the oldest that only sent a hello. */
function oldestUnproven(slots: Set<PendingHandshake> | undefined): PendingHandshake | undefined {
  if (slots === undefined) return undefined
  let oldestHello: PendingHandshake | undefined
  for (const slot of slots) {
    if (slot.stage === 'opening') return slot
    if (slot.stage === 'hello') oldestHello ??= slot
  }
  return oldestHello
}
