// Starts Swagger UI on the API reference page (/api/docs) with the shop's document.
// A file of its own: the shop's Content Security Policy allows no inline script.
(function () {
  "use strict";
  var root = document.getElementById("api-reference");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-document-url"),
    domNode: root,
    deepLinking: true,
  });
})();
