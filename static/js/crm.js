// Small behaviours shared by every page; htmx does the rest.
document.addEventListener("keydown", (event) => {
  // "/" focuses the global search from anywhere (support finds a caller in one keystroke).
  if (event.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    const box = document.getElementById("global-search");
    if (box) { event.preventDefault(); box.focus(); }
  }
  if (event.key === "Escape") {
    const suggestions = document.getElementById("search-suggestions");
    if (suggestions) { suggestions.innerHTML = ""; }
  }
});
document.addEventListener("click", (event) => {
  const suggestions = document.getElementById("search-suggestions");
  if (suggestions && !event.target.closest("[role=search]")) { suggestions.innerHTML = ""; }
});

// Record pickers (crm/widgets.py): a tapped suggestion fills the hidden id and the visible text.
document.addEventListener("click", (event) => {
  const option = event.target.closest("[data-pick-id]");
  const picker = event.target.closest("[data-picker]");
  if (!picker) { return; }
  if (option) {
    event.preventDefault();
    picker.querySelector("[data-picker-value]").value = option.dataset.pickId;
    picker.querySelector("[data-picker-text]").value = option.dataset.pickLabel;
    picker.querySelector(".picker-results").innerHTML = "";
  } else if (event.target.closest("[data-picker-clear]")) {
    picker.querySelector("[data-picker-value]").value = "";
    picker.querySelector("[data-picker-text]").value = "";
    picker.querySelector(".picker-results").innerHTML = "";
  }
});
