/** The baseline's one activity: does nothing but answer (the floor of an activity round trip). */
export function createBaselineActivities() {
  return {
    async baselineSubmit(id: string): Promise<string> {
      return `accepted:${id}`;
    },
  };
}
export type BaselineActivities = ReturnType<typeof createBaselineActivities>;
