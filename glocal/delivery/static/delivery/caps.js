// The pressure caps' rows (HQ's delivery rules): "Add a cap" appends an empty row cloned from the
// formset's <template>. Without JavaScript the page already has a few empty rows and the "Remove"
// boxes: this only adds rows beyond those.
function setUpCaps() {
  const table = document.querySelector("[data-formset]");
  if (!table || table.dataset.ready) return;
  table.dataset.ready = "1";
  const prefix = table.getAttribute("data-formset");
  const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
  const max = document.getElementById(`id_${prefix}-MAX_NUM_FORMS`);
  const template = document.getElementById(`${prefix}-empty`);
  const button = document.querySelector(`[data-formset-add="${prefix}"]`);
  const body = table.querySelector("tbody");
  if (!total || !template || !button || !body) return;
  const refresh = () => {
    button.disabled = max ? Number(total.value) >= Number(max.value) : false;
  };
  button.hidden = false;
  button.addEventListener("click", () => {
    const index = Number(total.value);
    const html = template.innerHTML.replace(/__prefix__/g, String(index)).replace(/__row__/g, String(index + 1));
    body.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    const first = body.lastElementChild && body.lastElementChild.querySelector("input");
    if (first) first.focus();
    refresh();
  });
  refresh();
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpCaps);
else setUpCaps();
