/* The API documentation at /docs: Swagger UI from our own copy, started from a file rather than
   an inline script, so the page works offline and under a policy without 'unsafe-inline'
   scripts. validatorUrl: null keeps Swagger UI from asking validator.swagger.io. No deep
   linking: it puts a link inside each operation's expand button, a control nested in a
   control that screen readers cannot reach (axe-core's nested-interactive). */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
