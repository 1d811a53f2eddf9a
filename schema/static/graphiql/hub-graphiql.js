// GraphiQL for the hub (loaded by schema/templates/graphiql.html after React and GraphiQL).
// A file rather than an inline script so that the page's Content-Security-Policy can say
// script-src 'self' (hub/security.py); the example query comes from a JSON data block on the page.
(function () {
  "use strict";

  // A link such as /graphiql#key=<apikey> hands an API key to the page. The fragment never
  // reaches the server; take the key and remove it from the address bar and the history entry.
  var apiKey = null;
  if (window.location.hash.length > 1) {
    apiKey = new URLSearchParams(window.location.hash.slice(1)).get("key");
    if (apiKey !== null) {
      window.history.replaceState(
        window.history.state, "", window.location.pathname + window.location.search
      );
    }
  }

  var wsScheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: "/graphql",
    subscriptionUrl: wsScheme + "//" + window.location.host + "/graphql"
  });

  var props = {
    fetcher: fetcher,
    defaultQuery: JSON.parse(document.getElementById("hub-default-query").textContent),
    shouldPersistHeaders: true,
    isHeadersEditorEnabled: true
  };
  if (apiKey) {
    var headers = JSON.stringify({ "X-API-Key": apiKey }, null, 2);
    props.defaultHeaders = headers;
    // Headers persisted from an earlier visit would otherwise win over defaultHeaders; a key
    // given explicitly in the link is the one the user means to use now.
    props.headers = headers;
    props.defaultEditorToolsVisibility = "headers";
  }

  function render(registered) {
    // The registered operations (hub operations register), one tab each after the example query,
    // so that a front-end developer starts from the exact text the hub knows (GraphiQL shows these
    // default tabs while it has none stored from an earlier visit).
    if (registered.length > 0) {
      props.defaultTabs = [{ query: props.defaultQuery }].concat(
        registered.map(function (op) { return { query: op.document }; })
      );
    }
    var root = ReactDOM.createRoot(document.getElementById("graphiql"));
    root.render(React.createElement(GraphiQL, props));
  }

  if (!apiKey) {
    render([]);
    return;
  }
  fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": apiKey },
    body: JSON.stringify({
      query: "query HubRegisteredOperations { registeredOperations { name document } }"
    })
  })
    .then(function (resp) { return resp.json(); })
    .then(function (body) {
      // A role in allow-list mode may be refused this very query: then there is nothing to offer.
      render((body && body.data && body.data.registeredOperations) || []);
    })
    .catch(function () { render([]); });
})();
