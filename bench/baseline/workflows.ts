/**
 * Baseline workflows of the benchmarks (floor-workflows.ts), bundled together with the real ones (re-exported below) so
 * that one worker with one set of settings runs both sides of a comparison.
 */
export * from '../../src/workflows';
export * from './floor-workflows';
