// The page the context menu opens: papers in the library related to the selected text.
import { ask, el, hitItem, problem } from "./common.js";

const text = new URLSearchParams(location.search).get("text") || "";
document.querySelector("#selection").textContent = text;
const res = await ask({ type: "relatedText", text });
const state = document.querySelector("#state");
state.dataset.state = res.state;
if (res.state !== "ok") state.replaceChildren(problem(res));
else if (!res.hits.length) state.replaceChildren(el("p", {}, "Nothing in your library is related to this text."));
document.querySelector("#results").replaceChildren(...(res.hits || []).map(hitItem));
