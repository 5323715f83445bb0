/** `wschat connect`: placeholder until the terminal client lands. */
export async function runConnect(_args: string[]): Promise<void> {
  throw new Error('the terminal client is not built yet');
}
