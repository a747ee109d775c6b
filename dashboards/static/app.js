// Small conveniences only; every page works without script.
document.addEventListener("DOMContentLoaded", () => {
  // Put the cursor on the first field with an error.
  const bad = document.querySelector(".has-error input, .has-error select, .has-error textarea");
  if (bad) bad.focus();
  // Flash messages fade after a while so they do not linger over the page.
  for (const flash of document.querySelectorAll(".flash.success")) {
    setTimeout(() => flash.remove(), 6000);
  }
  // Copy buttons (the enrollment command); the text stays selectable without script.
  for (const button of document.querySelectorAll("[data-copy-target]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copyTarget);
      if (!source || !navigator.clipboard) return;
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = button.dataset.copied;
    });
  }
});
