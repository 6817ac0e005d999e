// The Reels API playground: GraphiQL with the example tabs embedded in the page and a sign-in
// bar. The signed-in token goes into every HTTP request as `Authorization: Bearer <token>` and
// into the websocket's connection_init payload as `token` (what /graphql reads there), so
// subscriptions run over graphql-transport-ws as the signed-in user.
(function () {
  "use strict";

  const TOKEN_KEY = "reels.playground.token";
  // The page is served by the GraphQL endpoint itself.
  const graphqlUrl = window.location.href.split(/[?#]/)[0];
  const socketUrl = graphqlUrl.replace(/^http/, "ws");
  const exampleTabs = JSON.parse(document.getElementById("playground-tabs").textContent).map(
    (tab) => ({ query: tab.query, variables: JSON.stringify(tab.variables, null, 2) }),
  );

  // On a first visit GraphiQL 3.8 opens defaultTabs but fills the editors from its `query` and
  // `variables` props, so the first tab would show no variables; later visits restore the
  // stored tabs, which these props would otherwise duplicate.
  const firstVisit = localStorage.getItem("graphiql:tabState") === null;
  const firstTabEditors = firstVisit ? exampleTabs[0] : {};

  const signInForm = document.getElementById("sign-in");
  const signedIn = document.getElementById("signed-in");
  const viewerName = document.getElementById("viewer-name");
  const message = document.getElementById("sign-in-message");
  const editorRoot = ReactDOM.createRoot(document.getElementById("graphiql"));
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  async function post(query, variables, token) {
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(graphqlUrl, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: await response.json() };
  }

  // The token lives in these two objects. The toolkit's fetcher spreads `headers` into every
  // HTTP request and `wsConnectionParams` into each new socket's connection_init when it sends,
  // so signing in or out changes them and nothing else: a new fetcher makes GraphiQL fetch the
  // schema again and re-render, and a click on Run during that re-render is lost.
  const authHeaders = {};
  const connectionParams = {};
  const fetcherOptions = {
    url: graphqlUrl,
    headers: authHeaders,
    subscriptionUrl: socketUrl,
    wsConnectionParams: connectionParams,
  };
  // Only a change of rights makes a new fetcher: where introspection is for staff only
  // (REELS_INTROSPECTION=staff), a moderator or admin signing in or out sees another schema.
  let editorForStaff = null;

  function renderEditor(staff) {
    if (staff === editorForStaff) return;
    editorForStaff = staff;
    editorRoot.render(
      React.createElement(GraphiQL, {
        fetcher: GraphiQL.createFetcher(fetcherOptions),
        defaultTabs: exampleTabs,
        ...firstTabEditors,
        plugins: [explorer],
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        inputValueDeprecation: true,
      }),
    );
  }

  function useToken(token) {
    if (token) {
      authHeaders.Authorization = `Bearer ${token}`;
      connectionParams.token = token;
    } else {
      delete authHeaders.Authorization;
      delete connectionParams.token;
    }
  }

  function showViewer(viewer, token) {
    if (viewer) {
      localStorage.setItem(TOKEN_KEY, token);
      viewerName.textContent = `${viewer.username} (${viewer.role})`;
    } else {
      localStorage.removeItem(TOKEN_KEY);
    }
    signInForm.hidden = Boolean(viewer);
    signedIn.hidden = !viewer;
    useToken(viewer ? token : null);
    renderEditor(Boolean(viewer) && viewer.role !== "USER");
  }

  // Both answer an AuthPayload: the token and the user it belongs to.
  const AUTH_MUTATIONS = {
    login: `mutation PlaygroundSignIn($input: LoginInput!) {
      login(input: $input) { token user { username role } userErrors { message code } }
    }`,
    register: `mutation PlaygroundRegister($input: RegisterInput!) {
      register(input: $input) { token user { username role } userErrors { message code } }
    }`,
  };

  signInForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter && event.submitter.value === "register" ? "register" : "login";
    const fields = new FormData(signInForm);
    message.textContent = "";
    try {
      const { body } = await post(AUTH_MUTATIONS[action], {
        input: { username: fields.get("username"), password: fields.get("password") },
      });
      const payload = body.data && body.data[action];
      const refusal = payload ? payload.userErrors[0] : body.errors && body.errors[0];
      if (refusal || !payload.token) {
        message.textContent = refusal ? refusal.message : `${action} failed`;
        return;
      }
      signInForm.reset();
      showViewer(payload.user, payload.token);
    } catch (error) {
      message.textContent = `${action} failed: ${error.message}`;
    }
  });

  document.getElementById("sign-out").addEventListener("click", () => {
    message.textContent = "";
    showViewer(null, null);
  });

  // A token kept from an earlier visit may have expired or been revoked: check it first.
  async function restoreSession() {
    const token = localStorage.getItem(TOKEN_KEY);
    if (!token) return showViewer(null, null);
    try {
      const { status, body } = await post("query PlaygroundViewer { viewer { username role } }", {}, token);
      const viewer = status === 200 && body.data ? body.data.viewer : null;
      if (!viewer) message.textContent = "the saved sign-in has expired; sign in again";
      showViewer(viewer, token);
    } catch (error) {
      message.textContent = `could not reach the API: ${error.message}`;
      showViewer(null, null);
    }
  }

  restoreSession();
})();
