// Selects marked data-autosubmit send their form on change; without JavaScript the
// button next to them does the same.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});
