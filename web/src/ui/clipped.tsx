/**
 * User text in a table cell, cut to the cell's bound with an ellipsis; the whole text is its title
 * (hover) and stays in the DOM for screen readers and the filter. A 200-character label without a
 * space would otherwise widen its column until the row's actions leave the screen. `<bdi>`: the
 * text's own direction marks stay inside it.
 */
export function Clipped({ text }: { text: string | null }) {
  if (text === null || text === '') return null;
  return (
    <bdi class="clipped" title={text}>
      {text}
    </bdi>
  );
}
