// Small conveniences only; every page works without script.
document.addEventListener("DOMContentLoaded", () => {
  // Put the cursor on the first field with an error.
  const bad = document.querySelector(".has-error input, .has-error select, .has-error textarea");
  if (bad) bad.focus();
  // Flash messages fade after a while so they do not linger over the page.
  for (const flash of document.querySelectorAll(".flash.success")) {
    setTimeout(() => flash.remove(), 6000);
  }
});
