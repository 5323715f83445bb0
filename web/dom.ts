/** Small DOM helpers. Text always goes in through textContent, never as HTML. */

/** Creates an element with an optional class list and text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * The element with this id, checked to be of the expected class.
 * @throws Error when index.html and the script disagree (a build mistake).
 */
export function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return node;
}

/** Shows or hides with the `hidden` attribute (styled display:none in styles.css). */
export function show(node: HTMLElement, visible: boolean): void {
  node.hidden = !visible;
}
