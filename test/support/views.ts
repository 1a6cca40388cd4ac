/** Helpers for tests of view declarations. */
import { expect } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import type { ViewDeclaration } from '../../src/views/declaration.ts';
import { compileViews } from '../../src/views/model.ts';

/** The GW_VIEW_INVALID (or other registry) error compiling the declarations throws; fails if it accepts them. */
export function viewError(declarations: readonly ViewDeclaration[]): GatewayError {
  try {
    compileViews(declarations);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('compileViews accepted the declarations');
}
