// The console works without this script: it only adds a copy button beside a key shown once.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      // Outside a secure context there is no clipboard API; the older command copies the
      // selection.
      document.execCommand("copy");
    }
    button.textContent = "Copied";
  });
}
