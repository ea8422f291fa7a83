import { EnsembleError } from '../../src/core/errors.js';

/** The EnsembleError a call throws; fails the test if it throws nothing or something else. */
export function catchError(run: () => unknown): EnsembleError {
  try {
    run();
  } catch (error) {
    if (error instanceof EnsembleError) return error;
    throw error;
  }
  throw new Error('expected an EnsembleError, but nothing was thrown');
}
