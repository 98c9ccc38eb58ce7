/*
 * Goal: callers can rely on SDK errors: one class per failure they branch on, a stable
 * string code, the wire number, and honest retryable/definite flags. Method: map every
 * wire code through errorFromCode and check class, code and number; check the flags,
 * the catalogue, options (path, cause, results), and an unknown code.
 */
import { describe, expect, it } from 'vitest'
import { ErrorCode, type ErrorCodeName } from '../../../protocol/index.js'
import {
  AbortedError,
  BadArgumentsError,
  ClientClosedError,
  ConclaveError,
  ConnectionLossError,
  NoNodeError,
  OperationTimeoutError,
  errorFromCode,
  errors,
} from '../../../client/index.js'

describe('errors', () => {
  it('maps every wire code to an error with that code and number', () => {
    for (const [name, number] of Object.entries(ErrorCode) as Array<[ErrorCodeName, number]>) {
      if (number === 0) continue
      const error = errorFromCode(number, 'm')
      expect(error).toBeInstanceOf(ConclaveError)
      expect(error).toBeInstanceOf(Error)
      expect(error.code).toBe(name)
      expect(error.codeNumber).toBe(number)
    }
  })

  it('gives each catalogued class its own code, name and instanceof', () => {
    const codes = new Set<string>()
    for (const [name, cls] of Object.entries(errors)) {
      if (cls === ConclaveError) continue
      const error = new (cls as new (message: string) => ConclaveError)('m')
      expect(error.name).toBe(name)
      expect(errorFromCode(error.codeNumber, 'm')).toBeInstanceOf(cls)
      codes.add(error.code)
    }
    expect(codes.size).toBe(Object.keys(errors).length - 1)
    expect(errorFromCode(ErrorCode.NO_NODE, 'm')).not.toBeInstanceOf(BadArgumentsError)
  })

  it('marks transient failures retryable and the rest not', () => {
    expect(new ConnectionLossError('m').retryable).toBe(true)
    expect(new OperationTimeoutError('m').retryable).toBe(true)
    expect(errorFromCode(ErrorCode.NOT_SERVING, 'm').retryable).toBe(true)
    expect(errorFromCode(ErrorCode.THROTTLED, 'm').retryable).toBe(true)
    expect(new NoNodeError('m').retryable).toBe(false)
    expect(new ClientClosedError('m').retryable).toBe(false)
    expect(errorFromCode(ErrorCode.SESSION_EXPIRED, 'm').retryable).toBe(false)
  })

  it('is definite unless told otherwise, and carries path, cause and results', () => {
    const cause = new Error('socket')
    const error = new AbortedError('m', {
      definite: false,
      path: '/a',
      cause,
      results: [{ op: 'check', err: 0 }],
    })
    expect(error).toMatchObject({ definite: false, path: '/a', results: [{ op: 'check', err: 0 }] })
    expect(error.cause).toBe(cause)
    expect(new NoNodeError('m').definite).toBe(true)
  })

  it('keeps an unknown code number in the message', () => {
    const error = errorFromCode(-9999, 'odd')
    expect(error.code).toBe('SYSTEM_ERROR')
    expect(error.message).toContain('-9999')
  })
})
