/** The baseline's one activity: does nothing but answer (the floor of an activity round trip). */
export function createBaselineActivities() {
  return {
    async baselineSubmit(id: string): Promise<string> {
      return `accepted:${id}`;
    },
  };
}
export type BaselineActivities = ReturnType<typeof createBaselineActivities>;

/**
 * Bench 11's third floor: starts workflows through a client, as a ledger could bind its refunds' numbers with one
 * (local) activity instead of starting them as its children. Each started workflow waits for a signal.
 */
export function createBindingActivities(startWorkflow: (workflowId: string) => Promise<unknown>) {
  return {
    async startHeldWorkflows(workflowIds: string[]): Promise<number> {
      await Promise.all(workflowIds.map((id) => startWorkflow(id)));
      return workflowIds.length;
    },
  };
}
export type BindingActivities = ReturnType<typeof createBindingActivities>;
