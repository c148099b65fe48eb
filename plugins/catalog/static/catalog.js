// Progressive enhancement of the catalog pages; every page works without it.
(function () {
  "use strict";

  // Forms marked data-autosubmit (a listing's filters and sort) and selects marked so
  // (a product's options) are sent as soon as a choice changes; their Apply/Choose
  // buttons, needed without JavaScript, step aside.
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.form;
    if (!form) {
      return;
    }
    if (form.hasAttribute("data-autosubmit") ||
        (target.matches && target.matches("select[data-autosubmit]"))) {
      // Empty fields (no lowest price) stay out of the address.
      for (var i = 0; i < form.elements.length; i++) {
        var field = form.elements[i];
        if (field.name && field.type !== "checkbox" && field.value === "") {
          field.disabled = true;
        }
      }
      form.submit();
    }
  });

  // Back to a listing from the browser's cache: its fields as they were, usable.
  window.addEventListener("pageshow", function () {
    var fields = document.querySelectorAll("form[data-autosubmit] [disabled]");
    for (var i = 0; i < fields.length; i++) {
      fields[i].disabled = false;
    }
  });

  // A listing's filters are folded on a phone; beside the products they stay open.
  var filters = document.getElementById("filters");
  if (filters && window.matchMedia && matchMedia("(min-width: 760px)").matches) {
    filters.open = true;
  }

  // The gallery: a thumbnail shows its picture large here instead of loading the page
  // again (its link, ?image=N, is what works without JavaScript).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".thumbs a[data-src]");
    var main = document.getElementById("gallery-main");
    if (!link || !main || event.ctrlKey || event.metaKey || event.shiftKey || event.button) {
      return;
    }
    event.preventDefault();
    main.removeAttribute("srcset");  // or the browser may keep the old candidate
    main.src = link.getAttribute("data-src");
    main.srcset = link.getAttribute("data-srcset");
    main.width = Number(link.getAttribute("data-width"));
    main.height = Number(link.getAttribute("data-height"));
    main.alt = link.getAttribute("data-alt");
    if (main.parentNode.tagName === "A") {
      main.parentNode.href = link.getAttribute("data-full");
    }
    var thumbs = link.closest(".thumbs").querySelectorAll("a[aria-current]");
    for (var i = 0; i < thumbs.length; i++) {
      thumbs[i].removeAttribute("aria-current");
    }
    link.setAttribute("aria-current", "true");
    if (window.history && history.replaceState) {
      history.replaceState(null, "", link.href);
    }
  });
})();
