// The campaign preview: the phone / desktop buttons resize the message's frame in place.
// Without JavaScript they are links that reload the page at the chosen width.
(function () {
  "use strict";

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-preview-width]");
    const frame = document.getElementById("preview-frame");
    if (!button || !frame) {
      return;
    }
    event.preventDefault();
    frame.width = button.dataset.previewWidth;
    button.parentElement.querySelectorAll("[data-preview-width]").forEach((other) => {
      other.classList.toggle("active", other === button);
    });
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", button.href);
    }
  });
})();
