/*
 * Goal: a call's result is typed by its request's op, from the protocol's ResultMap,
 * so the SDK needs no casts where it uses results. Method: type-level assertions
 * (checked by `tsc --noEmit -p .`, which covers test/) on runCall instantiated with
 * several request types; the runtime part of the test is trivial.
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { runCall } from '../../../client/call.js'
import type {
  ChildrenRequest,
  CreateRequest,
  ExistsRequest,
  GetRequest,
  MultiRequest,
  MultiResult,
  Request,
  Result,
  ResultOf,
  Stat,
} from '../../../protocol/index.js'

/** Resolved is what runCall resolves to for a request of type R. */
type Resolved<R extends Request> = Awaited<ReturnType<typeof runCall<R>>>

describe('call result types', () => {
  it('follow the request op through ResultMap', () => {
    expectTypeOf<Resolved<GetRequest>>().toEqualTypeOf<{ data: Uint8Array; stat: Stat }>()
    expectTypeOf<Resolved<CreateRequest>>().toEqualTypeOf<{ path: string; stat: Stat }>()
    expectTypeOf<Resolved<ExistsRequest>>().toEqualTypeOf<{ stat: Stat | null }>()
    expectTypeOf<Resolved<ChildrenRequest>>().toEqualTypeOf<{ children: string[]; stat?: Stat }>()
    expectTypeOf<Resolved<MultiRequest>>().toEqualTypeOf<{ results: MultiResult[] }>()
    expectTypeOf<Resolved<{ op: 'childCount'; path: string }>>().toEqualTypeOf<
      ResultOf<'childCount'>
    >()
    // A request whose op is not known statically gets the union of all results.
    expectTypeOf<Resolved<Request>>().toEqualTypeOf<Result>()
  })
})
