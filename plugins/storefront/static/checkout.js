// The address form's state list shows only the chosen country's states, and hides
// itself for a country that has none. Without this script the form works the same:
// the list is grouped by country and the server checks the choice.
document.querySelectorAll("select[data-region-for]").forEach(function (region) {
  var country = document.getElementById(region.getAttribute("data-region-for"));
  var field = region.closest(".field");
  function update() {
    var group = null;
    region.querySelectorAll("optgroup").forEach(function (candidate) {
      var chosen = candidate.getAttribute("data-country") === country.value;
      candidate.hidden = candidate.disabled = !chosen;
      if (chosen) group = candidate;
    });
    var selected = region.options[region.selectedIndex];
    if (selected && selected.parentNode !== group) region.value = "";
    field.hidden = !group;
  }
  country.addEventListener("change", update);
  update();
});
