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

// The Content-Security-Policy runs no inline handler (onchange="…", hx-on:…): the templates mark
// what they need with data-* attributes, handled here for the whole document (htmx swaps too).
// <form data-confirm="¿…?">: sent only once the person confirms. In the capture phase, so that a
// refusal stops the submit before htmx or any other listener sees it.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
// <select data-autosubmit>: choosing an option sends its form (a plain submit, as without htmx).
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-autosubmit]");
  if (field && field.form) { field.form.submit(); }
  // <input type="checkbox" data-check-all="tickets">: ticks or clears the table's boxes of that name.
  const all = event.target.closest("[data-check-all]");
  if (all) {
    const scope = all.closest("table, form") || document;
    scope.querySelectorAll(`input[type=checkbox][name="${all.dataset.checkAll}"]`).forEach((box) => {
      box.checked = all.checked;
    });
  }
});
document.addEventListener("click", (event) => {
  // <button data-remove-closest="form">: takes that ancestor off the page (an inline form's "Cancelar").
  const remover = event.target.closest("[data-remove-closest]");
  if (remover) {
    const gone = remover.closest(remover.dataset.removeClosest);
    if (gone) { gone.remove(); }
  }
  // <button data-copy-target="id" data-copied-text="Copiada">: copies that field's value.
  const copier = event.target.closest("[data-copy-target]");
  const source = copier ? document.getElementById(copier.dataset.copyTarget) : null;
  if (source) {
    if (navigator.clipboard) {
      navigator.clipboard.writeText(source.value).then(() => {
        copier.textContent = copier.dataset.copiedText;
      });
    } else {
      source.select(); // no clipboard outside HTTPS: the address is selected, to copy by hand
    }
  }
});
// <select data-reset-after-request>: back to its empty option once its htmx request is answered.
document.addEventListener("htmx:afterRequest", (event) => {
  const elt = event.detail.elt;
  if (elt && elt.matches && elt.matches("[data-reset-after-request]")) { elt.value = ""; }
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

// One-time form tokens (crm/core/submit_once.py): a form answered by htmx stays on the page to be
// used again, so it gets a new token; sending the same token twice saves once.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
  const field = form ? form.querySelector("input[name=_once]") : null;
  if (!field || !event.detail.successful) { return; }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  field.value = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
});
