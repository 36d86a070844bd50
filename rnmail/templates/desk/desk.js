// The desk's script: progressive enhancement only, every page works without it.
//
// The ticket page (/desk/tickets/N): while its tab is shown, it tells the desk every
// minute that the ticket is still open (POST .../presence with the page's CSRF token), and
// again when the tab is shown after being hidden, so that the colleagues' pages go on
// naming whoever has it open (rnmail.tickets.presence) while they write a long answer;
// when the page goes, it says so (POST .../presence/left, a beacon), and a page that
// replaced the same ticket's (a reload, an answer sent) says again that it is open.
//
// The call form (/desk/calls/new): as the call taker types a number, a name or an address,
// the caller's candidates are asked from /desk/calls/lookup?q= and shown; "Use" fills the
// form the way the page's own "Use" buttons do (rnmail.web.desk.calls.filling: the number
// and the address already typed are kept) and offers the caller's open tickets to add the
// call to. Built with DOM calls and textContent only: nothing from the server is parsed
// as HTML. The words come from the page (data-* attributes, in the member's language).
//
// Drafts (every form marked data-draft: the call form, a ticket's answer and note): what
// is typed is kept in this tab (sessionStorage) until a page says the change was made
// (data-draft-clear), so that a session that ended meanwhile, a crash or a wrong click
// loses nothing: shown empty again, the form is filled again, and says so. Signing out
// forgets every draft of the tab.
//
// The queue as it was left: its tab, filters, order and page are remembered in the tab,
// and "Back to the queue" (data-queue-link) leads back to them.
"use strict";

// The browser tab's storage (drafts, the queue's view), or null when it is refused (private
// mode, a policy).
const tabStore = () => {
  try {
    window.sessionStorage.getItem("rnmail");
    return window.sessionStorage;
  } catch (error) {
    return null;
  }
};

(() => {
  const form = document.getElementById("call-form");
  const box = document.getElementById("candidates");
  if (!form || !box || !window.fetch) return;
  const words = box.dataset;
  const minimum = Number(words.lookupMin) || 3;
  const watched = ["phone", "caller", "email", "organisation"];
  const kept = ["phone", "email"];
  // What was typed is kept when it is a number, an address (the number the call came
  // from is the one to call back); a name typed into the number's field is replaced.
  const plausible = {
    phone: value => !/\p{L}/u.test(value) && value.replace(/\D/g, "").length >= 6,
    email: value => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value),
  };
  const element = name => form.elements.namedItem(name);
  let timer = null;
  let asked = "";
  let pending = null;

  const make = (tag, text, attributes = {}) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };

  const linkChoices = document.getElementById("link-choices");
  const offerTickets = tickets => {
    for (const old of linkChoices.querySelectorAll(".from-lookup")) old.remove();
    for (const t of tickets) {
      if (document.getElementById(`link-${t.id}`)) continue;
      const choice = make("span", undefined, {class: "choice from-lookup"});
      choice.append(make("input", undefined, {
        type: "radio", name: "link", id: `link-${t.id}`, value: String(t.id)}),
                    make("label", `#${t.id} ${t.subject} (${t.status})`, {for: `link-${t.id}`}));
      linkChoices.append(choice);
    }
  };

  const use = candidate => {
    for (const [name, value] of Object.entries(candidate.fill)) {
      const field = element(name);
      if (!field || !value) continue;
      if (kept.includes(name) && plausible[name](field.value.trim())) continue;
      field.value = value;
    }
    offerTickets(candidate.open_tickets);
    element("subject").focus();
  };

  const show = (query, candidates) => {
    box.replaceChildren();
    if (!candidates.length) {
      box.append(make("p", words.none.replace("{query}", query), {id: "no-candidate"}));
      return;
    }
    box.append(make("h2", words.found.replace("{query}", query), {id: "candidates-title"}));
    const list = make("ul", undefined, {class: "candidates"});
    candidates.forEach((c, index) => {
      const item = make("li", undefined, {
        class: c.blocked ? "candidate blocked" : "candidate", id: `candidate-${index}`});
      const button = make("button", words.use, {type: "button", id: `use-${index}`});
      button.addEventListener("click", () => use(c));
      item.append(button, make("strong", c.title), " ", make("span", c.details,
                                                                 {class: "hint"}));
      if (c.open_tickets.length) {
        const tickets = make("span", `${words.tickets} `, {class: "hint tickets"});
        c.open_tickets.forEach((t, i) => {
          tickets.append(make("a", `#${t.id}`, {href: `/desk/tickets/${t.id}`}),
                         ` ${t.subject} (${t.status})${i < c.open_tickets.length - 1 ? "; " : ""}`);
        });
        item.append(" ", tickets);
      }
      list.append(item);
    });
    box.append(list);
  };

  const lookup = async query => {
    if (pending) pending.abort();
    pending = new AbortController();
    let reply;
    try {
      reply = await fetch(`/desk/calls/lookup?q=${encodeURIComponent(query)}`, {
        credentials: "same-origin", headers: {Accept: "application/json"},
        signal: pending.signal});
    } catch (error) {
      return;  // aborted by a newer query, or the network: the Look up button still works
    }
    if (reply.status === 401) {
      box.replaceChildren(make("p", words.signedOut, {class: "error", id: "signed-out"}));
      return;
    }
    if (!reply.ok) return;
    const found = await reply.json();
    if (found.query === asked) show(found.query, found.candidates);
  };

  const typed = event => {
    const query = event.target.value.trim().replace(/\s+/g, " ");
    if (query.length < minimum || query === asked) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      asked = query;
      lookup(query);
    }, 250);
  };

  for (const name of watched) {
    const field = element(name);
    if (field) field.addEventListener("input", typed);
  }
  // A service chosen means the call is delegated (the form refuses a service with
  // another outcome rather than logging the call open and forgetting the service).
  const service = element("service");
  const delegate = document.getElementById("outcome-delegate");
  if (service && delegate) {
    service.addEventListener("change", () => { if (service.value) delegate.checked = true; });
  }
  form.classList.add("scripted");
})();

(() => {
  const mark = document.getElementById("presence-mark");
  if (!mark || !window.fetch || !window.FormData) return;
  const every = (Number(mark.dataset.seconds) || 60) * 1000;
  const stillOpen = () => {
    if (document.visibilityState !== "visible") return;
    const data = new FormData();
    data.append("csrf", mark.dataset.csrf);
    fetch(mark.dataset.url, {method: "POST", body: data, credentials: "same-origin"})
      .catch(() => {});  // offline a moment: the next one says it
  };
  setInterval(stillOpen, every);
  document.addEventListener("visibilitychange", stillOpen);
  // Left (the tab closed, another page opened): the colleagues' pages stop naming this
  // member soon. Come back to with the Back button, the page is still open again.
  window.addEventListener("pagehide", () => {
    if (!navigator.sendBeacon) return;
    const data = new FormData();
    data.append("csrf", mark.dataset.csrf);
    navigator.sendBeacon(mark.dataset.left, data);
  });
  window.addEventListener("pageshow", event => { if (event.persisted) stillOpen(); });
  // Reloaded, or back after one of its own forms (an answer sent): the page before was this
  // ticket's too, and its "left" lands after this page's view was recorded. Say it again.
  const [entry] = performance.getEntriesByType ? performance.getEntriesByType("navigation")
    : [];
  let before = "";
  try { before = document.referrer ? new URL(document.referrer).pathname : ""; } catch (e) {}
  if ((entry && entry.type === "reload") || before === location.pathname) {
    setTimeout(stillOpen, 2000);
  }
})();

(() => {
  const store = tabStore();
  if (!store) return;  // the forms work as they are
  const PREFIX = "rnmail-draft:";
  for (const node of document.querySelectorAll("[data-draft-clear]")) {
    for (const key of node.dataset.draftClear.split(" ")) store.removeItem(PREFIX + key);
  }
  const logout = document.getElementById("logout-form");
  if (logout) {
    logout.addEventListener("submit", () => {
      for (let i = store.length - 1; i >= 0; i -= 1) {
        const key = store.key(i);
        if (key && key.startsWith(PREFIX)) store.removeItem(key);
      }
    });
  }
  const TEXT = ["text", "textarea", "tel", "email", "search", "number", "date"];
  const kept = field => field.name && field.name !== "csrf" &&
    !["hidden", "file", "password", "submit", "button", "reset"].includes(field.type);

  for (const form of document.querySelectorAll("form[data-draft]")) {
    const key = PREFIX + form.dataset.draft;
    const fields = [...form.elements].filter(kept);
    const save = () => {
      const values = {};
      for (const field of fields) {
        if (field.type === "radio" || field.type === "checkbox") {
          if (field.checked) values[`${field.name}=${field.value}`] = true;
        } else {
          values[field.name] = field.value;
        }
      }
      store.setItem(key, JSON.stringify(values));
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);

    const saved = store.getItem(key);
    const blank = fields.every(f => !TEXT.includes(f.type) || !f.value.trim());
    if (!saved || !blank) continue;  // nothing kept, or the page shows its own values
    let values;
    try {
      values = JSON.parse(saved);
    } catch (error) {
      store.removeItem(key);
      continue;
    }
    for (const field of fields) {
      if (field.type === "radio" || field.type === "checkbox") {
        field.checked = Boolean(values[`${field.name}=${field.value}`]);
      } else if (typeof values[field.name] === "string") {
        field.value = values[field.name];
      }
    }
    const notice = document.createElement("p");
    notice.className = "notice";
    notice.id = `draft-restored-${form.id}`;
    notice.setAttribute("role", "status");
    notice.textContent = `${form.dataset.draftRestored || ""} `;
    const discard = document.createElement("button");
    discard.type = "button";
    discard.id = `draft-discard-${form.id}`;
    discard.textContent = form.dataset.draftDiscard || "×";
    discard.addEventListener("click", () => {
      store.removeItem(key);
      form.reset();
      notice.remove();
    });
    notice.append(discard);
    form.prepend(notice);
  }
})();

(() => {
  const store = tabStore();
  if (!store) return;  // "Back to the queue" leads to its first page
  const KEY = "rnmail-queue-view";
  if (location.pathname === "/desk/") {
    const asked = new URLSearchParams(location.search);
    asked.delete("lang");  // the language switch, not the view
    store.setItem(KEY, asked.toString());
    return;
  }
  const view = store.getItem(KEY);
  if (!view) return;
  for (const link of document.querySelectorAll("a[data-queue-link]")) {
    link.href = `/desk/?${view}`;
  }
})();
