// django-celery-beat's periodic task form in the admin (templates/admin/djcelery/
// change_periodictask_form.html): the package's inline script, moved here for the
// Content-Security-Policy. Choosing a crontab adds its schedule in words under the field.
(function () {
  "use strict";
  const $ = window.django && window.django.jQuery;
  const source = document.getElementById("readable-crontabs");
  if (!$ || !source) {
    return;
  }
  const readable = JSON.parse(source.textContent);
  const help = $(".field-crontab .help");
  const original = help.text();

  $(".field-crontab_translation").hide();
  $(".field-crontab").change(() => {
    const words = readable[$("#id_crontab").val()] || "";
    help.text(original).append("<br>", document.createTextNode(`Translation: ${words}`));
  });
})();
