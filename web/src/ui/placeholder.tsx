/** A page not built yet: says so plainly instead of pretending to work. */
export function Placeholder({ title }: { title: string }) {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      <p class="muted">This page is not available yet in this version of the console.</p>
    </section>
  );
}
