// The sales board (opportunities/pipeline/board.html) and the deal's sheet.
//
// Each card gets a small form (a select of stages) that posts the move with htmx: the page sends
// it once (#board-move-template) and it is cloned into every card here; without JavaScript the
// card links to the deal's own stage form instead. Dragging a card to another column
// (SortableJS) sets that select and posts the same form, so the phone's select and the desktop's
// drag share one path. The server answers with the card as it now is:
// after the swap the card is put in the column of the stage it reports, so a refused move
// springs back by itself. Moving to a lost stage asks for the reason first.
(function () {
  "use strict";

  // Form errors (422) are swapped like any answer: they carry the message to show.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
  }

  const moveTemplate = document.getElementById("board-move-template");

  // Give a card its move form: the shared one, pointed at this card.
  function equip(card) {
    if (!moveTemplate || card.querySelector("form.board-move")) { return; }
    const slot = card.querySelector(".board-move-slot");
    if (!slot) { return; }
    const form = moveTemplate.content.firstElementChild.cloneNode(true);
    const id = card.dataset.cardId;
    form.action = card.dataset.moveUrl;
    form.setAttribute("hx-post", card.dataset.moveUrl);
    form.setAttribute("hx-target", `#card-${id}`);
    const select = form.querySelector(".board-move-select");
    select.id = `move-${id}`;
    select.value = card.dataset.stageId;
    form.querySelector("label").htmlFor = select.id;
    slot.replaceChildren(form);
    if (window.htmx) { htmx.process(form); }
  }

  function equipAll(root) {
    if (root.classList && root.classList.contains("board-card")) { equip(root); }
    if (root.querySelectorAll) { root.querySelectorAll(".board-card").forEach(equip); }
  }

  function columnFor(stageId) {
    return document.querySelector(`.board-cards[data-stage-id="${stageId}"]`);
  }

  // Put a card in the column of the stage it carries, keeping its place when it is already there.
  function settle(card) {
    const column = columnFor(card.dataset.stageId);
    if (column && card.parentElement !== column) {
      column.prepend(card);
    }
  }

  function showMessage(text) {
    const box = document.getElementById("board-message");
    if (!box) { return; }
    box.innerHTML = "";
    const alert = document.createElement("div");
    alert.className = "alert alert-danger py-2";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    box.appendChild(alert);
  }

  const modalElement = document.getElementById("lost-reason-modal");
  let pendingLost = null; // {card, form} waiting for the reason

  function askLostReason(card, form) {
    if (!modalElement || !window.bootstrap) {
      const reason = window.prompt(modalElement ? modalElement.querySelector("label").textContent : "");
      if (reason && reason.trim()) {
        submitMove(form, reason.trim());
      } else {
        cancelMove(card);
      }
      return;
    }
    pendingLost = { card, form };
    const input = modalElement.querySelector("#lost-reason-input");
    input.value = "";
    bootstrap.Modal.getOrCreateInstance(modalElement).show();
    modalElement.addEventListener("shown.bs.modal", () => input.focus(), { once: true });
  }

  function cancelMove(card) {
    const select = card.querySelector(".board-move-select");
    if (select) { select.value = card.dataset.stageId; }
    settle(card);
  }

  function submitMove(form, lostReason) {
    form.querySelector("input[name=lost_reason]").value = lostReason || "";
    form.closest(".board-card").classList.add("is-moving");
    htmx.trigger(form, "board-move");
  }

  function requestMove(card, stageId) {
    const form = card.querySelector("form.board-move");
    const select = form.querySelector(".board-move-select");
    select.value = stageId;
    const option = select.selectedOptions[0];
    if (option && option.dataset.lost === "1") {
      askLostReason(card, form);
    } else {
      submitMove(form, "");
    }
  }

  if (modalElement) {
    modalElement.querySelector("#lost-reason-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = modalElement.querySelector("#lost-reason-input");
      if (!input.value.trim()) { input.reportValidity(); return; }
      const pending = pendingLost;
      pendingLost = null;
      bootstrap.Modal.getOrCreateInstance(modalElement).hide();
      if (pending) { submitMove(pending.form, input.value.trim()); }
    });
    modalElement.addEventListener("hidden.bs.modal", () => {
      if (pendingLost) {
        cancelMove(pendingLost.card);
        pendingLost = null;
      }
    });
  }

  // The select of a card (phones, keyboards): the same move as a drag.
  document.addEventListener("change", (event) => {
    const select = event.target.closest(".board-move-select");
    if (!select) { return; }
    const card = select.closest(".board-card");
    if (select.value !== card.dataset.stageId) {
      requestMove(card, select.value);
    }
  });

  function makeSortable(root) {
    if (!window.Sortable) { return; }
    root.querySelectorAll(".board-cards").forEach((column) => {
      if (column.dataset.sortable) { return; }
      column.dataset.sortable = "1";
      Sortable.create(column, {
        group: "board",
        animation: 150,
        draggable: ".board-card",
        filter: "select, input, button",
        preventOnFilter: false,
        delay: 200,
        delayOnTouchOnly: true,
        ghostClass: "board-card-ghost",
        onEnd(event) {
          if (event.from === event.to) { return; }
          requestMove(event.item, event.to.dataset.stageId);
        },
      });
    });
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    const card = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest(".board-card");
    if (card) { settle(card); }
    document.querySelectorAll(".board-card.is-moving").forEach((c) => c.classList.remove("is-moving"));
    makeSortable(document);
  });

  // A move the server did not even answer with a card (no longer yours, network): back it goes.
  document.addEventListener("htmx:responseError", (event) => {
    const form = event.detail.elt.closest && event.detail.elt.closest("form.board-move");
    if (!form) { return; }
    const card = form.closest(".board-card");
    card.classList.remove("is-moving");
    cancelMove(card);
    showMessage(document.getElementById("board")?.dataset.errorText || "Error");
  });
  document.addEventListener("htmx:sendError", (event) => {
    const form = event.detail.elt.closest && event.detail.elt.closest("form.board-move");
    if (!form) { return; }
    const card = form.closest(".board-card");
    card.classList.remove("is-moving");
    cancelMove(card);
    showMessage(document.getElementById("board")?.dataset.errorText || "Error");
  });

  // The contact select of the deal's form follows the account chosen in the picker.
  document.addEventListener("click", (event) => {
    const picker = event.target.closest("[data-picker]");
    if (!picker || !window.htmx) { return; }
    if (!event.target.closest("[data-pick-id], [data-picker-clear]")) { return; }
    const hidden = picker.querySelector("[data-picker-value]");
    const contact = picker.closest("form")?.querySelector("select[data-contact-options]");
    if (!hidden || hidden.name !== "account" || !contact) { return; }
    // Captured before crm.js writes the chosen id in the hidden input: read it just after.
    window.setTimeout(() => {
      htmx.ajax("GET", `${contact.dataset.contactOptions}?account=${encodeURIComponent(hidden.value)}`, {
        target: contact,
        swap: "innerHTML",
      });
    }, 0);
  }, true);

  equipAll(document);
  makeSortable(document);
  // Cards that htmx brings (a move's answer, a filtered board) get their form too.
  if (window.htmx) { htmx.onLoad(equipAll); }
})();
