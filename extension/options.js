// Options: server URL, pairing token, sites, how many related papers, minimum similarity, loosely related ones.
const $ = (s) => document.querySelector(s);
const DEFAULTS = { serverUrl: "http://127.0.0.1:8765", token: "", sites: {}, relatedCount: 5, minScore: 0, hideLoose: false };

async function load() {
  const s = await chrome.storage.local.get(DEFAULTS);
  $("#serverUrl").value = s.serverUrl;
  $("#token").value = s.token;
  $("#relatedCount").value = s.relatedCount;
  $("#minScore").value = s.minScore;
  $("#hideLoose").checked = s.hideLoose;
  for (const box of document.querySelectorAll("[data-site]")) box.checked = s.sites[box.dataset.site] !== false;
  $("#paired-with").textContent = s.token ? `Paired with the papershelf server at ${s.serverUrl}.` : "Not paired yet.";
}

$("#form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const sites = {};
  for (const box of document.querySelectorAll("[data-site]")) sites[box.dataset.site] = box.checked;
  await chrome.storage.local.set({
    serverUrl: $("#serverUrl").value.trim().replace(/\/$/, ""), token: $("#token").value.trim(), sites,
    relatedCount: Math.min(20, Math.max(1, Number($("#relatedCount").value) || 5)),
    minScore: Math.min(1, Math.max(0, Number($("#minScore").value) || 0)),
    hideLoose: $("#hideLoose").checked,
  });
  $("#saved").textContent = "Saved.";
  load();
});

$("#test").addEventListener("click", async () => {
  const r = await chrome.runtime.sendMessage({ type: "status" });
  $("#saved").textContent = r.state === "ok" ? `Connected: ${r.stats.papers} papers.`
    : r.state === "unpaired" ? "The server is running but the token is missing or wrong."
      : "No papershelf server at that URL: start it with `papershelf serve`.";
});
load();
