// ¿Quién llama?: F2 from any page finds the caller by their number.
// On the lookup page F2 focuses its box; elsewhere it opens the dialog that the navbar carries
// (crm/caller_modal.html) with the box focused. F2 types nothing, so it never clashes with the
// "/" of the global search, and it is left alone while the global search box has the focus.
(() => {
  "use strict";

  const focusBox = (box) => {
    box.focus();
    box.select();
  };

  const dialog = () => {
    let modal = document.getElementById("caller-modal");
    if (modal) { return modal; }
    const template = document.getElementById("caller-modal-template");
    if (!template) { return null; }
    // Made on first use, at the end of <body>: outside the sticky navbar's stacking context.
    document.body.appendChild(template.content.cloneNode(true));
    modal = document.getElementById("caller-modal");
    if (window.htmx) { window.htmx.process(modal); }
    modal.addEventListener("shown.bs.modal", () => focusBox(modal.querySelector("[name=q]")));
    // "Abrir como página" takes the number typed along.
    modal.addEventListener("click", (event) => {
      const link = event.target.closest(".modal-footer a[href]");
      const box = modal.querySelector("[name=q]");
      if (link && box.value.trim()) {
        const url = new URL(link.href, window.location.href);
        url.searchParams.set("q", box.value.trim());
        link.href = url.toString();
      }
    });
    return modal;
  };

  const openLookup = () => {
    const pageBox = document.getElementById("caller-q");
    if (pageBox) {
      focusBox(pageBox);
      return true;
    }
    const modal = dialog();
    if (!modal) { return false; }
    if (window.bootstrap) {
      window.bootstrap.Modal.getOrCreateInstance(modal).show();
    } else {
      const link = document.querySelector("[data-caller-shortcut]");
      if (link) { window.location.href = link.href; }
    }
    return true;
  };

  // A card swapped after its call was logged takes the focus (so Esc still closes the dialog,
  // and a screen reader reads "Llamada registrada").
  let swappedCard = "";
  document.addEventListener("htmx:beforeSwap", (event) => {
    const id = event.detail.target ? event.detail.target.id : "";
    swappedCard = /^caller-(contact|account)-\d+$/.test(id) ? id : "";
  });
  // On afterSwap, in the same task as the swap: the focus is never a step behind the new card.
  document.addEventListener("htmx:afterSwap", () => {
    const card = swappedCard && document.getElementById(swappedCard);
    swappedCard = "";
    if (card) { card.focus(); }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "F2" || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    if (event.target.closest && event.target.closest("#global-search")) { return; }
    if (openLookup()) { event.preventDefault(); }
  });
})();
