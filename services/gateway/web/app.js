// The web inbox of a receiving service: sign-in, the inbox updating live
// (server-sent events relayed from WatchInbox), a referral's detail and the
// receiver's actions. No data is kept in browser storage; the language
// preference is a cookie. Pages are built with DOM calls (no HTML from data).
import { STRINGS, LANGUAGES } from "/web/i18n.js";

const API = "/web/api";
const state = {
  lang: "it",
  session: null,
  inbox: new Map(),
  cursor: 0,
  events: null,
  live: "connecting",
  fresh: new Set(),
  view: null,
  detail: null,
};

function t() {
  return STRINGS[state.lang];
}

function code(value) {
  return (value && t().codes[value]) || value || "";
}

// ---- Language (a cookie: a preference, not personal data) ----

function readLanguage() {
  const match = document.cookie.split(";").map((c) => c.trim().split("=")).find(([k]) => k === "approdo_lang");
  const lang = match ? match[1] : "it";
  return LANGUAGES.includes(lang) ? lang : "it";
}

function setLanguage(lang) {
  state.lang = lang;
  document.cookie = `approdo_lang=${lang}; Path=/web; SameSite=Strict; Max-Age=31536000`;
  document.documentElement.lang = lang;
  chrome();
  route(false);
}

// ---- DOM ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A fresh text node so that screen readers announce a repeated message too.
  setTimeout(() => { region.textContent = text; }, 50);
}

function when(seconds) {
  if (!seconds) return "";
  return new Intl.DateTimeFormat(state.lang === "it" ? "it-IT" : "en-GB", {
    dateStyle: "short", timeStyle: "short",
  }).format(new Date(seconds * 1000));
}

function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

function chrome() {
  const s = t();
  document.getElementById("skip-link").textContent = s.skip;
  document.getElementById("tools").setAttribute("aria-label", s.toolsLabel);
  const language = document.getElementById("language");
  language.textContent = s.switchTo;
  language.setAttribute("lang", s.switchToLang);
  const signOut = document.getElementById("sign-out");
  signOut.textContent = s.signOut;
  signOut.hidden = !state.session;
  document.getElementById("who").textContent = state.session
    ? s.signedInAs(state.session.organisation, state.session.user) : "";
}

// ---- API ----

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRF-Token"] = state.session ? state.session.csrf : "sign-in";
  }
  let response;
  try {
    response = await fetch(API + path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---- Sign-in ----

async function signInView() {
  const s = t();
  const options = await api("GET", "/session/options").catch(() => ({ development_accounts: [] }));
  const error = h("div", { id: "sign-in-error", role: "alert" });
  const signedIn = async (promise) => {
    try {
      state.session = await promise;
      await start();
    } catch (e) {
      error.replaceChildren(h("p", { class: "error-summary" }, e.problem?.detail || s.failed));
    }
  };
  const development = options.development_accounts.length === 0 ? null : h("section", { "aria-labelledby": "dev-title" },
    h("h2", { id: "dev-title" }, s.developmentTitle),
    h("ul", {}, options.development_accounts.map((a) => h("li", {},
      h("button", {
        type: "button", class: "secondary", dataset: { account: String(a.index) },
        onclick: () => signedIn(api("POST", "/session/development", { index: a.index })),
      }, s.developmentAs(a.organisation, a.user))))));
  const token = h("textarea", { id: "identity-token", rows: "3", cols: "60", autocomplete: "off", spellcheck: "false" });
  const tokenForm = h("form", { class: "action", onsubmit: (e) => {
    e.preventDefault();
    signedIn(api("POST", "/session", { token: token.value.trim() }));
  } },
  h("label", { for: "identity-token" }, s.tokenLabel), token,
  h("button", { type: "submit" }, s.tokenSubmit));
  show(
    h("h1", {}, s.signInTitle),
    h("p", {}, s.signInIntro),
    error,
    development,
    h("section", { "aria-labelledby": "token-title" }, h("h2", { id: "token-title" }, s.tokenTitle), tokenForm),
  );
}

async function signOut() {
  try { await api("DELETE", "/session"); } catch (e) { /* the session is gone either way */ }
  stopEvents();
  state.session = null;
  state.inbox.clear();
  chrome();
  location.hash = "";
  await signInView();
}

// ---- Inbox and live events ----

function stopEvents() {
  if (state.events) state.events.close();
  state.events = null;
}

function setLive(status) {
  state.live = status;
  const line = document.getElementById("live");
  if (line) {
    line.dataset.status = status;
    line.textContent = status === "live" ? t().liveOn : status === "offline" ? t().liveOff : t().liveConnecting;
  }
}

function listen() {
  stopEvents();
  const events = new EventSource(`${API}/inbox/events?after=${state.cursor}`);
  state.events = events;
  events.addEventListener("open", () => setLive("live"));
  events.addEventListener("referral", (event) => {
    const referral = JSON.parse(event.data);
    if (event.lastEventId) state.cursor = Number(event.lastEventId);
    const known = state.inbox.get(referral.referral_id);
    state.inbox.set(referral.referral_id, referral);
    if (!known) {
      state.fresh.add(referral.referral_id);
      announce(t().newReferral(referral.referral_id));
    } else if (known.state !== referral.state) {
      announce(t().changedReferral(referral.referral_id, code(referral.state)));
    }
    if (state.view === "inbox") renderRows();
    if (state.view === "detail" && state.detail && state.detail.referral_id === referral.referral_id
        && state.detail.state !== referral.state && !document.querySelector("[data-pending]")) {
      detailView(referral.case_id, referral.referral_id, false);
    }
  });
  events.addEventListener("watch-error", () => setLive("offline"));
  events.addEventListener("error", async () => {
    setLive("offline");
    if (events.readyState === EventSource.CLOSED) {
      // Refused (the session ended?) or the stream ended: check, then resume from the cursor.
      try {
        await api("GET", "/session");
        setTimeout(() => { if (state.events === events) listen(); }, 2000);
      } catch (e) {
        if (e.status === 401) sessionEnded();
      }
    }
  });
}

function sessionEnded() {
  stopEvents();
  state.session = null;
  chrome();
  signInView().then(() => announce(t().sessionEnded));
}

async function loadInbox() {
  const answer = await api("GET", "/inbox");
  state.inbox.clear();
  for (const r of answer.referrals) state.inbox.set(r.referral_id, r);
  state.cursor = answer.cursor;
}

function due(r) {
  if (r.state === "sent" || r.state === "received") return r.answer_by || r.acknowledge_by;
  if (r.state === "accepted") return r.take_charge_by;
  return null;
}

function renderRows() {
  const body = document.getElementById("inbox-rows");
  if (!body) return;
  const s = t();
  const rows = [...state.inbox.values()].sort((a, b) => b.last_log_sequence - a.last_log_sequence);
  document.getElementById("inbox-empty").hidden = rows.length > 0;
  body.replaceChildren(...rows.map((r) => h("tr", {
    class: state.fresh.has(r.referral_id) ? "fresh" : null,
    dataset: { referralId: r.referral_id, state: r.state },
  },
  h("td", {}, h("a", {
    href: `#/cases/${encodeURIComponent(r.case_id)}/referrals/${encodeURIComponent(r.referral_id)}`,
    "aria-label": s.open(r.referral_id),
  }, r.referral_id)),
  h("td", {}, code(r.service_type)),
  h("td", {}, h("span", { class: "state" }, code(r.state))),
  h("td", {}, code(r.urgency)),
  h("td", {}, when(r.sent_at)),
  h("td", {}, when(due(r))))));
}

async function inboxView(load = true) {
  state.view = "inbox";
  const s = t();
  if (load) {
    try {
      await loadInbox();
    } catch (e) {
      if (e.status === 401) return sessionEnded();
      return show(h("h1", {}, s.inboxTitle), h("p", { class: "error-summary", role: "alert" }, e.problem?.detail || s.failed));
    }
    // Listed: watch from the list's cursor.
    listen();
  }
  show(
    h("h1", {}, s.inboxTitle),
    h("p", { id: "live", class: "live", dataset: { status: state.live } }),
    h("p", { id: "inbox-empty", class: "empty", hidden: true }, s.emptyInbox),
    h("table", { id: "inbox" },
      h("caption", { class: "visually-hidden" }, s.inboxTitle),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, s.colReferral),
        h("th", { scope: "col" }, s.colService),
        h("th", { scope: "col" }, s.colState),
        h("th", { scope: "col" }, s.colUrgency),
        h("th", { scope: "col" }, s.colSent),
        h("th", { scope: "col" }, s.colDue))),
      h("tbody", { id: "inbox-rows" })),
  );
  setLive(state.live);
  renderRows();
}

// ---- A referral ----

const RECEIVER_ACTIONS = {
  sent: ["receive", "accept", "decline"],
  received: ["accept", "decline"],
  accepted: ["take_charge"],
  in_care: ["hold", "complete"],
  on_hold: ["resume", "complete"],
};
const LABELS = { receive: "receive", accept: "accept", decline: "decline", take_charge: "takeCharge", hold: "hold", resume: "resume", complete: "complete" };
const DECLINE_REASONS = ["no_capacity", "out_of_scope", "person_refused", "unsafe", "other"];
const OUTCOMES = ["goals_met", "transferred_to_other_service", "person_withdrew", "other"];
const RELEASE_REASONS = ["discharge", "transfer"];

function normalise(field) {
  return String(field).split(".").pop().replace(/[_-]/g, "").toLowerCase();
}

function select(id, field, label, values) {
  return [
    h("label", { for: id }, label),
    h("select", { id, name: field, dataset: { field: normalise(field) }, required: true },
      h("option", { value: "" }, t().choose),
      values.map((v) => h("option", { value: v }, code(v)))),
  ];
}

// One user action: its request id is drawn once and kept until the service
// answers, so a repeated click or a retry after a lost answer is the same command.
async function perform(form, path, body) {
  if (form.dataset.pending) return;
  const button = form.querySelector("button[type=submit]");
  form.dataset.requestId ||= crypto.randomUUID();
  form.dataset.pending = "true";
  button.disabled = true;
  form.querySelectorAll(".field-error, .error-summary").forEach((n) => n.remove());
  form.querySelectorAll("[aria-invalid]").forEach((n) => { n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); });
  try {
    await api("POST", path, { ...body, request_id: form.dataset.requestId });
    delete form.dataset.requestId;
    delete form.dataset.pending;
    announce(t().done);
    const { case_id, referral_id } = state.detail;
    await detailView(case_id, referral_id, false);
    document.getElementById("detail-status")?.focus();
  } catch (e) {
    delete form.dataset.pending;
    button.disabled = false;
    if (e.status === 401) return sessionEnded();
    // Answered: a new attempt is a new action. Not answered: the same one again.
    if (e.status !== 0 && e.status < 500) delete form.dataset.requestId;
    showErrors(form, e);
  }
}

function showErrors(form, e) {
  const s = t();
  const errors = e.problem?.errors || [];
  let first = null;
  const unplaced = [];
  for (const violation of errors) {
    const input = form.querySelector(`[data-field="${normalise(violation.field)}"]`);
    if (!input) { unplaced.push(violation); continue; }
    const id = `${input.id}-error`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.after(h("p", { id, class: "field-error" }, violation.description));
    first ||= input;
  }
  const detail = e.status === 0 || e.status >= 500 ? s.retry : (e.problem?.detail || s.failed);
  form.prepend(h("div", { class: "error-summary", role: "alert" },
    h("strong", {}, `${s.failed}: `), detail,
    unplaced.length ? h("ul", {}, unplaced.map((v) => h("li", {}, `${v.field}: ${v.description}`))) : null));
  (first || form.querySelector("button[type=submit]")).focus();
}

function actionForm(name, path, extra = () => ({}), fields = []) {
  const s = t();
  const form = h("form", { class: "action", dataset: { action: name }, novalidate: true },
    fields,
    h("button", { type: "submit" }, s[LABELS[name]] || name));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    perform(form, path, { action: name, ...extra(form) });
  });
  return form;
}

function value(form, field) {
  return form.querySelector(`[name="${field}"]`)?.value || "";
}

function referralActions(d) {
  const s = t();
  const path = `/cases/${encodeURIComponent(d.case_id)}/referrals/${encodeURIComponent(d.referral_id)}/actions`;
  const names = RECEIVER_ACTIONS[d.state] || [];
  if (names.length === 0) return h("p", {}, s.noActions);
  return h("div", { class: "actions" }, names.map((name) => {
    if (name === "decline") {
      return actionForm(name, path, (f) => ({ reason: value(f, "reason"), redirect_to_organisation_id: value(f, "redirect_to_organisation_id") }), [
        ...select("decline-reason", "reason", s.declineReason, DECLINE_REASONS),
        h("label", { for: "decline-redirect" }, s.redirectTo),
        h("input", { id: "decline-redirect", name: "redirect_to_organisation_id", dataset: { field: "redirecttoorganisationid" }, autocomplete: "off" }),
      ]);
    }
    if (name === "complete") {
      return actionForm(name, path, (f) => ({ outcome: value(f, "outcome") }),
        select("complete-outcome", "outcome", s.outcome, OUTCOMES));
    }
    return actionForm(name, path);
  }));
}

function placeActions(d) {
  const s = t();
  if (d.places.length === 0) return h("p", { id: "places-empty" }, s.noPlaces);
  const path = `/cases/${encodeURIComponent(d.case_id)}/places/actions`;
  return h("ul", {}, d.places.map((p, index) => {
    const where = { province: p.province, kind: p.kind };
    let action = null;
    if (p.standing === "reserved") {
      action = actionForm("confirm_arrival", path, () => where);
      action.querySelector("button").textContent = s.confirmArrival;
    } else if (p.standing === "occupying") {
      action = actionForm("release", path, (f) => ({ ...where, reason: value(f, "reason") }),
        select(`release-reason-${index}`, "reason", s.releaseReason, RELEASE_REASONS));
      action.querySelector("button").textContent = s.release;
    }
    return h("li", { dataset: { standing: p.standing } }, `${p.province} · ${p.kind} · ${s.standing}: ${code(p.standing)} · ${s.space}: ${p.space_id || "—"}`, action);
  }));
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== "" && v !== null && v !== undefined)
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

async function detailView(caseId, referralId, focus = true) {
  state.view = "detail";
  const s = t();
  if (!state.events) {
    // Opened directly: the inbox's live events from its current cursor.
    await loadInbox().then(listen, () => {});
  }
  let d;
  try {
    d = await api("GET", `/cases/${encodeURIComponent(caseId)}/referrals/${encodeURIComponent(referralId)}`);
  } catch (e) {
    if (e.status === 401) return sessionEnded();
    state.detail = null;
    return show(
      h("p", {}, h("a", { href: "#/inbox" }, s.back)),
      h("h1", {}, s.detailTitle(referralId)),
      h("p", { class: "error-summary", role: "alert", id: "detail-error", dataset: { status: String(e.status) } },
        e.status === 404 ? s.notFound : (e.problem?.detail || s.failed)));
  }
  state.detail = d;
  const dataset = d.dataset;
  const nodes = [
    h("p", {}, h("a", { href: "#/inbox" }, s.back)),
    h("h1", {}, s.detailTitle(d.referral_id)),
    h("p", { id: "detail-status", tabindex: "-1", dataset: { state: d.state } },
      `${s.colState}: `, h("span", { class: "state" }, code(d.state))),
    h("section", { "aria-labelledby": "facts-title" },
      h("h2", { id: "facts-title" }, s.facts),
      facts([
        [s.caseId, d.case_id],
        [s.colService, code(d.service_type)],
        [s.colUrgency, code(d.urgency)],
        [s.referrer, d.referrer_organisation_id],
        [s.colSent, when(d.sent_at)],
        [s.colDue, when(due(d))],
      ])),
    h("section", { "aria-labelledby": "dataset-title" },
      h("h2", { id: "dataset-title" }, s.dataset),
      dataset ? facts([
        [s.categories, dataset.categories.join(", ")],
        [s.colUrgency, code(dataset.urgency)],
        [s.languages, dataset.languages.join(", ")],
        [s.communication, dataset.communication_needs.join(", ")],
        [s.safety, dataset.safety_instructions.join(", ")],
      ]) : h("p", {}, s.datasetWithheld)),
    h("section", { "aria-labelledby": "actions-title" },
      h("h2", { id: "actions-title" }, s.actions),
      referralActions(d)),
    h("section", { "aria-labelledby": "places-title" },
      h("h2", { id: "places-title" }, s.places),
      placeActions(d)),
    h("section", { "aria-labelledby": "timeline-title" },
      h("h2", { id: "timeline-title" }, s.timeline),
      h("ol", { class: "timeline" }, d.timeline.map((e) =>
        h("li", {}, [when(e.at), code(e.state), e.organisation_id].filter(Boolean).join(" · "))))),
  ];
  if (focus) {
    show(...nodes);
  } else {
    document.getElementById("main").replaceChildren(...nodes);
  }
}

// ---- Routing ----

function route(focus = true) {
  if (!state.session) return signInView();
  const match = location.hash.match(/^#\/cases\/([^/]+)\/referrals\/([^/]+)$/);
  if (match) return detailView(decodeURIComponent(match[1]), decodeURIComponent(match[2]), focus);
  if (state.fresh.size && state.view === "inbox") state.fresh.clear();
  // The live events keep the inbox current: it is listed again only when they stopped.
  return inboxView(!state.events || state.live !== "live");
}

async function start() {
  chrome();
  if (!location.hash) location.hash = "#/inbox";
  else await route();
}

async function main() {
  state.lang = readLanguage();
  document.documentElement.lang = state.lang;
  document.getElementById("language").addEventListener("click", () => {
    setLanguage(t().switchToLang);
    document.getElementById("language").focus();
  });
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => route());
  try {
    state.session = await api("GET", "/session");
  } catch (e) {
    state.session = null;
  }
  chrome();
  if (state.session) await start();
  else await signInView();
}

main();
