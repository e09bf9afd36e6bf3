import { google, temporal } from '@temporalio/proto';
import { ledgerWasBusy, multiOperationStatuses } from '../../../src/ledger-busy';

/** A gRPC error as the client raises it for a refused update-with-start, with each operation's status packed. */
function refusedUpdateWithStart(statuses: Array<{ code: number; message: string }>) {
  const failure = temporal.api.errordetails.v1.MultiOperationExecutionFailure.encode({ statuses }).finish();
  const bin = Buffer.from(
    google.rpc.Status.encode({
      code: 9,
      message: 'Update-with-Start could not be executed.',
      details: [
        { type_url: 'type.googleapis.com/temporal.api.errordetails.v1.MultiOperationExecutionFailure', value: failure },
      ],
    }).finish(),
  );
  const metadata = new Map([['grpc-status-details-bin', [bin]]]);
  return Object.assign(new Error('9 FAILED_PRECONDITION: Update-with-Start could not be executed.'), {
    code: 9,
    metadata: { get: (key: string) => metadata.get(key) ?? [] },
  });
}

describe('whether a refused refund request may be sent again', () => {
  it('is busy on RESOURCE_EXHAUSTED, ABORTED and UNAVAILABLE, also as the cause of the SDK error', () => {
    for (const code of [8, 10, 14]) {
      expect(ledgerWasBusy(Object.assign(new Error('refused'), { code }))).toBe(true);
      expect(ledgerWasBusy(new Error('wrapped', { cause: Object.assign(new Error('refused'), { code }) }))).toBe(true);
    }
    expect(ledgerWasBusy(Object.assign(new Error('bad request'), { code: 3 }))).toBe(false);
    expect(ledgerWasBusy(new Error('no code'))).toBe(false);
  });

  it('is busy when an update-with-start was refused as a whole and every operation only says aborted or busy', () => {
    const aborted = refusedUpdateWithStart([
      { code: 10, message: 'Operation was aborted.' },
      { code: 10, message: 'Operation was aborted.' },
    ]);
    expect(multiOperationStatuses(aborted)).toEqual([
      { code: 10, message: 'Operation was aborted.' },
      { code: 10, message: 'Operation was aborted.' },
    ]);
    expect(ledgerWasBusy(aborted)).toBe(true);
    expect(
      ledgerWasBusy(
        refusedUpdateWithStart([
          { code: 8, message: 'too many updates' },
          { code: 10, message: 'aborted' },
        ]),
      ),
    ).toBe(true);
  });

  it('is busy while the ledger’s last workflow task failed or timed out (the server retries it), alone or packed', () => {
    const message = 'Unable to perform workflow execution update due to Workflow Task in failed state.';
    expect(ledgerWasBusy(Object.assign(new Error(`9 FAILED_PRECONDITION: ${message}`), { code: 9 }))).toBe(true);
    expect(
      ledgerWasBusy(
        refusedUpdateWithStart([
          { code: 10, message: 'Operation was aborted.' },
          { code: 9, message },
        ]),
      ),
    ).toBe(true);
    expect(
      ledgerWasBusy(refusedUpdateWithStart([{ code: 9, message: 'Workflow execution is already completed.' }])),
    ).toBe(false);
  });

  it('is not busy when one operation was refused for another reason, or nothing says why', () => {
    const invalid = refusedUpdateWithStart([
      { code: 3, message: 'WorkflowId is not set on request.' },
      { code: 10, message: 'Operation was aborted.' },
    ]);
    expect(ledgerWasBusy(invalid)).toBe(false);
    expect(ledgerWasBusy(Object.assign(new Error('9 FAILED_PRECONDITION'), { code: 9 }))).toBe(false);
  });
});
