// Runs on local pages only (127.0.0.1 and localhost, any port). On a papershelf server's own library page (it
// says so with <meta name="papershelf">) it tells the page whether this browser's extension is paired with
// that server (document.documentElement.dataset.extension: "paired" or "unpaired"), and pairs it when the user
// clicks the page's "Connect this browser" button (#pair-extension, which carries the page's token).
// - Only a real click counts (isTrusted): a page's own script cannot pair the extension behind the user's back.
// - Nothing flows to the page but "paired"/"unpaired" and an error message: never the stored token.
// - The service worker keeps a token only after the server it came from proved to be a papershelf server that
//   takes it (background.js: pair).
(() => {
  if (!document.querySelector('meta[name="papershelf"]')) return;
  const root = document.documentElement;
  const mark = (state, error = "") => {
    root.dataset.extension = state;
    if (error) root.dataset.extensionError = error; else delete root.dataset.extensionError;
    window.dispatchEvent(new Event("papershelf-extension")); // the page re-reads the attributes
  };
  const ask = (msg) => chrome.runtime.sendMessage(msg).catch(() => ({ paired: false, error: "the extension is not answering" }));
  document.addEventListener("click", async (e) => {
    const button = e.target instanceof Element ? e.target.closest("#pair-extension") : null;
    if (!button || !e.isTrusted) return;
    const r = await ask({ type: "pair", server: location.origin, token: String(button.dataset.token || "").slice(0, 200) });
    mark(r.paired ? "paired" : "unpaired", r.paired ? "" : r.error || "not paired");
  }, true);
  ask({ type: "pairedWith", server: location.origin }).then((r) => mark(r.paired ? "paired" : "unpaired"));
})();
