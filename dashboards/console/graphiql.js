// GraphiQL for the police API, from local assets. The console keeps its token in
// sessionStorage; when present it fills the Headers tab, so an officer signed in to the
// console need not paste it again.
(function () {
  "use strict";

  var TOKEN_KEY = "pingan.token";
  var url = window.location.origin + "/graphql";
  var socketUrl = url.replace(/^http/, "ws");
  var params = new URLSearchParams(window.location.search);

  function storedToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch (error) {
      return null;
    }
  }

  function initialHeaders() {
    if (params.get("headers")) return params.get("headers");
    var token = storedToken();
    return token ? JSON.stringify({ Authorization: "Bearer " + token }, null, 2) : undefined;
  }

  // GraphiQL sends the Headers tab as the websocket's connection_init payload too.
  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: socketUrl });

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      query: params.get("q") || undefined,
      headers: initialHeaders(),
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
