/** `wschat serve`: placeholder until the chat server lands. */
export async function runServe(_args: string[]): Promise<void> {
  throw new Error('the chat server is not built yet; try "wschat echo"');
}
