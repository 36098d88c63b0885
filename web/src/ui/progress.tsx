/** A long action under way: an indeterminate bar and what is happening, announced to screen readers. */
export function Progress({ label }: { label: string }) {
  return (
    <span class="progress" role="status">
      <progress aria-label={label} />
      <span>{label}</span>
    </span>
  );
}
