// Common Grounds' one small script. Every page works without it; it only makes
// the class chat live: it opens the class's event stream (Server-Sent Events)
// on the thread list and on a thread's page, and puts in the HTML the server
// rendered for this student, the same a reload would show. It also keeps the
// nav's unread count live (below). No framework, no inline code (the CSP
// allows only our own files).
(function () {
  "use strict";

  var chat = document.querySelector("section.chat[data-events]");
  if (!chat || !window.EventSource || !window.JSON) {
    return;
  }
  var page = chat.getAttribute("data-page");
  var sort = chat.getAttribute("data-sort") || "activity";
  var thread = chat.getAttribute("data-thread");
  var note = chat.querySelector(".live-note");

  function fragment(html) {
    var box = document.createElement("template");
    box.innerHTML = html.trim();
    return box.content.firstElementChild;
  }

  function say(text) {
    if (note) {
      note.textContent = text;
    }
  }

  // `known` false: the row was not on this page, so what came before is not
  // counted here; it says "new" without a number rather than a wrong one.
  function setUnread(row, count, known) {
    row.setAttribute("data-unread", String(count));
    row.setAttribute("data-unread-known", known ? "1" : "0");
    var badge = row.querySelector(".new-count");
    if (count > 0) {
      row.classList.add("thread-new");
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "new-count";
        row.querySelector(".thread-meta").appendChild(badge);
      }
      badge.textContent = known ? count + " new" : "new";
    } else if (badge) {
      badge.parentNode.removeChild(badge);
      row.classList.remove("thread-new");
    }
  }

  // A vote on a row comes back to this page's order (the server renders
  // live rows for the default one).
  function keepBack(row) {
    var form = row.querySelector("form.row-votes");
    if (sort === "activity" || !form || form.querySelector("input[name=back]")) {
      return;
    }
    var back = document.createElement("input");
    back.type = "hidden";
    back.name = "back";
    back.value = location.pathname + location.search;
    form.insertBefore(back, form.querySelector("button"));
  }

  // The thread list: a new thread or reply moves its row to the top, with its
  // "new" count; an edit, delete, hide or restore updates the row in place.
  function onList(data) {
    var list = chat.querySelector("ol.thread-list");
    if (!list) {
      return;
    }
    var old = document.getElementById("t-" + data.thread);
    // No row: the thread left the list (its first message deleted and the
    // last reply the class saw gone too), whichever message the news is of.
    if (!data.row) {
      if (old) {
        old.parentNode.removeChild(old);
      }
      return;
    }
    var row = fragment(data.row);
    var unread = old ? Number(old.getAttribute("data-unread")) || 0 : 0;
    // A row from another page (older threads) comes with its own count unknown.
    var known = old ? old.getAttribute("data-unread-known") !== "0" : !data.new || data.kind === "thread";
    if (data.new) {
      unread += 1;
    }
    setUnread(row, unread, known);
    keepBack(row);
    var held = focusedKey(old);
    // "Unanswered" is the activity order without answered threads.
    if (sort === "unanswered" && row.querySelector(".badge.answered")) {
      if (old) {
        old.parentNode.removeChild(old);
      }
      return;
    }
    // On "top" a row's place is its votes, not its activity: news updates
    // the row where it is, and a thread not listed waits for a reload.
    if (sort === "top") {
      if (old) {
        old.parentNode.replaceChild(row, old);
        refocus(row, held);
      } else if (data.kind === "thread") {
        say("A new thread was posted. Reload to see it in this order.");
      }
      return;
    }
    // A row the reader is on (its link or vote button focused) is redrawn
    // where it is, focus kept: moving it to the top would throw a keyboard
    // or screen-reader user back to the start of the page.
    if (held) {
      old.parentNode.replaceChild(row, old);
      refocus(row, held);
      say(data.new ? "New activity in the thread you are on." : "");
      return;
    }
    if (data.kind === "thread" || data.kind === "reply") {
      if (old) {
        old.parentNode.removeChild(old);
      }
      // Pinned threads stay on top: a thread that moved goes below them.
      var first = list.firstElementChild;
      while (first && !row.classList.contains("thread-pinned") && first.classList.contains("thread-pinned")) {
        first = first.nextElementSibling;
      }
      list.insertBefore(row, first);
      var empty = chat.querySelector(".empty-chat");
      if (empty) {
        empty.parentNode.removeChild(empty);
      }
      say(data.new ? "New activity in a thread." : "");
    } else if (old) {
      old.parentNode.replaceChild(row, old);
    }
  }

  var FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]";

  // What a control is, said so that its twin in a redrawn row or message
  // says the same: a box's summary by its words, a link by where it goes, a
  // button or field by the form it sends and its name. Never its position:
  // a redrawn message may gain or lose a form (an Edit box after its 15
  // minutes, a Reply box once hidden), and a position could then land on
  // another form's button, "Delete this message" say.
  function controlKey(el) {
    if (!el) {
      return null;
    }
    if (el.tagName === "SUMMARY") {
      return "summary " + (el.getAttribute("aria-label") || el.textContent.trim());
    }
    if (el.tagName === "A") {
      return "a " + el.getAttribute("href");
    }
    var form = el.form || el.closest("form");
    return el.tagName + " " + (form ? form.getAttribute("action") : "") + " " + (el.name || "");
  }

  // The key of `item`'s focused control, or null when focus is elsewhere.
  function focusedKey(item) {
    var active = document.activeElement;
    return item && active && item.contains(active) ? controlKey(active) : null;
  }

  // Focuses `item`'s control with this key, if it still has one (else focus
  // stays where the browser leaves it: nowhere it could do harm).
  function refocus(item, key) {
    if (!key) {
      return false;
    }
    var twin = Array.prototype.filter.call(item.querySelectorAll(FOCUSABLE), function (el) {
      return controlKey(el) === key;
    })[0];
    if (twin) {
      twin.focus();
    }
    return !!twin;
  }

  // The tab's title names the thread by its first words, as the server's page
  // does (web/chat/show.rs, topic_of: at most 32 bytes, cut at a word past
  // half of them): an edit takes the old words out of the title too, and a
  // delete or a hide all of them (tabs and window switchers show titles).
  function retitle(first) {
    var at = document.title.lastIndexOf("Thread · ");
    if (at < 0) {
      return;
    }
    var text = first ? first.querySelector(":scope > article > .msg-text") : null;
    var words = text ? text.textContent.split(/\s+/).filter(Boolean).join(" ") : "";
    var topic = words;
    var encoder = new TextEncoder();
    if (encoder.encode(words).length > 32) {
      var chars = Array.from(words);
      var cut = "";
      var bytes = 0;
      // The last space, where the server finds it: by its byte offset.
      var space = -1;
      var spaceBytes = -1;
      for (var i = 0; i < chars.length; i++) {
        var size = encoder.encode(chars[i]).length;
        if (bytes + size > 32) {
          break;
        }
        if (chars[i] === " ") {
          space = cut.length;
          spaceBytes = bytes;
        }
        bytes += size;
        cut += chars[i];
      }
      topic = (spaceBytes > 16 ? cut.slice(0, space) : cut).replace(/\s+$/, "") + "…";
    }
    document.title = (topic ? topic + " · " : "") + document.title.slice(at);
  }

  // The thread's first message left every page under an open one: said, where
  // a reload would answer "Page not found".
  function threadGone(list) {
    if (document.getElementById("thread-gone")) {
      return;
    }
    var note = document.createElement("p");
    note.id = "thread-gone";
    note.className = "notice";
    note.setAttribute("role", "status");
    note.textContent = "This thread is no longer here: it was deleted or removed.";
    list.parentNode.insertBefore(note, list);
  }

  // A thread's page: a reply goes after the last message under its parent; any
  // other change replaces the message in place.
  function onThread(data) {
    if (data.thread !== thread) {
      return;
    }
    var list = document.getElementById("thread-" + thread);
    if (!list) {
      return;
    }
    // The count, as a reload would show it.
    var count = chat.querySelector(".reply-count");
    if (count && typeof data.replies === "number") {
      count.textContent = data.replies === 1 ? "1 reply" : data.replies + " replies";
    }
    var old = document.getElementById("m-" + data.message);
    var oldItem = old ? old.closest("li") : null;
    if (!data.html) {
      if (oldItem) {
        oldItem.parentNode.removeChild(oldItem);
      }
      if (data.message === thread) {
        retitle(null);
        threadGone(list);
      }
      return;
    }
    var item = fragment(data.html);
    if (oldItem) {
      var settle = carryOver(oldItem, item);
      oldItem.parentNode.replaceChild(item, oldItem);
      settle();
      if (!item.querySelector(".msg-head .pseudonym")) {
        answersNowDeleted(item);
      }
      if (data.message === thread) {
        retitle(item);
      }
      return;
    }
    if (data.kind !== "reply") {
      return;
    }
    var parent = data.parent ? document.getElementById("m-" + data.parent) : null;
    var parentItem = parent ? parent.closest("li") : null;
    if (!parentItem) {
      list.appendChild(item);
    } else {
      var depth = Number(parentItem.getAttribute("data-depth")) || 0;
      // The server knows a reply's parent, not its depth in this page's tree.
      item.setAttribute("data-depth", String(depth + 1));
      item.className = item.className.replace(/indent-\d+/, "indent-" + Math.min(depth + 1, 3));
      // A reply names what it answers, as the server's page does (its
      // pseudonym, or [deleted]): shown past the deepest indent, read out
      // only above it, where the indent says it to the eye.
      var head = item.querySelector(".msg-head");
      if (head && !item.querySelector(".replying-to")) {
        var parentName = parent.querySelector(".msg-head .pseudonym");
        var note = document.createElement("p");
        note.className = depth + 1 > 3 ? "replying-to" : "replying-to visually-hidden";
        note.textContent = "replying to " + (parentName ? parentName.textContent : "[deleted]");
        head.insertAdjacentElement("afterend", note);
      }
      var after = parentItem;
      var next = after.nextElementSibling;
      while (next && (Number(next.getAttribute("data-depth")) || 0) > depth) {
        after = next;
        next = after.nextElementSibling;
      }
      list.insertBefore(item, after.nextElementSibling);
    }
    if (data.new) {
      say("New reply.");
      // A link to it beside the count: it may have landed far up the page.
      var jump = chat.querySelector(".live-jump");
      if (!jump && count) {
        jump = document.createElement("a");
        jump.className = "live-jump";
        count.parentNode.insertBefore(jump, count.nextSibling);
        count.parentNode.insertBefore(document.createTextNode(" "), jump);
      }
      if (jump) {
        jump.href = "#m-" + data.message;
        jump.textContent = "(jump to the new reply)";
      }
      seen();
    }
  }

  // A message redrawn as deleted: the replies directly under it (the next
  // items one level deeper, before the tree climbs back) now answer
  // "[deleted]", as a reload would say, not a name that is gone.
  function answersNowDeleted(item) {
    var depth = Number(item.getAttribute("data-depth")) || 0;
    for (var next = item.nextElementSibling; next; next = next.nextElementSibling) {
      var at = Number(next.getAttribute("data-depth")) || 0;
      if (at <= depth) {
        break;
      }
      var note = at === depth + 1 ? next.querySelector(".replying-to") : null;
      if (note) {
        note.textContent = "replying to [deleted]";
      }
    }
  }

  // A message changed (edited, marked as the answer, hidden) while this
  // student had one of its forms open, a reply half typed say: the new HTML
  // takes the old item's place in this page's tree (the server sends it at
  // depth 1), and each open or changed form moves across as it is, with its
  // text, focus and caret, instead of closing. A form the new HTML no longer
  // offers (a hidden message takes no replies) goes with it.
  function carryOver(oldItem, item) {
    item.setAttribute("data-depth", oldItem.getAttribute("data-depth") || "0");
    var indent = oldItem.className.match(/indent-\d+/);
    if (indent) {
      item.className = item.className.replace(/indent-\d+/, indent[0]);
    }
    // Past the deepest indent, what it answers stays named.
    var replyingTo = oldItem.querySelector(".replying-to");
    var head = item.querySelector(".msg-head");
    if (replyingTo && head && !item.querySelector(".replying-to")) {
      head.insertAdjacentElement("afterend", replyingTo.cloneNode(true));
    }
    var active = document.activeElement;
    var focused = active && oldItem.contains(active) ? active : null;
    // Which control had focus: a vote button or a link in the text has no
    // form to carry across, so its twin in the new message takes it.
    var heldKey = focusedKey(oldItem);
    var caret =
      focused && typeof focused.selectionStart === "number"
        ? [focused.selectionStart, focused.selectionEnd]
        : null;
    function label(details) {
      var summary = details.querySelector("summary");
      return summary ? summary.textContent.trim() : "";
    }
    Array.prototype.forEach.call(oldItem.querySelectorAll("details.msg-action"), function (details) {
      var field = details.querySelector("textarea, input[type=text]");
      var changed = field && field.value !== field.defaultValue;
      if (!details.open && !changed) {
        return;
      }
      var twin = Array.prototype.filter.call(item.querySelectorAll("details.msg-action"), function (other) {
        return label(other) === label(details);
      })[0];
      if (twin && !changed) {
        // Open and untouched (an Edit box shows the text as it was): the
        // new form, with the new text, open in its place.
        twin.open = true;
        if (focused && details.contains(focused)) {
          // The same control of the new form (its summary for the summary,
          // never merely the form's first button, which for Delete deletes).
          var same = Array.prototype.filter.call(twin.querySelectorAll(FOCUSABLE), function (el) {
            return controlKey(el) === heldKey;
          })[0];
          focused = same || twin.querySelector("summary");
          caret = null;
        }
      } else if (twin) {
        twin.parentNode.replaceChild(details, twin);
      } else if (changed) {
        // The message no longer offers this form (hidden, say): the text
        // stays where it was typed; sent, it is refused and kept again.
        var actions = item.querySelector(".msg-actions");
        if (actions) {
          actions.appendChild(details);
        }
      }
    });
    return function settle() {
      if (focused && item.contains(focused)) {
        focused.focus();
        if (caret && focused.setSelectionRange) {
          focused.setSelectionRange(caret[0], caret[1]);
        }
      } else if (focused) {
        refocus(item, heldKey);
      }
    };
  }

  // Replies shown live on a thread's page count as read, as after a reload:
  // told to the server a moment later, once for a burst.
  var seenTimer = null;
  function seen() {
    var token = document.querySelector("input[name=csrf_token]");
    if (!token || !window.fetch || seenTimer) {
      return;
    }
    seenTimer = window.setTimeout(function () {
      seenTimer = null;
      var body = new URLSearchParams();
      body.append("csrf_token", token.value);
      window.fetch("/classes/" + chat.getAttribute("data-class") + "/threads/" + thread + "/read", {
        method: "POST",
        body: body,
        credentials: "same-origin"
      }).catch(function () {});
    }, 1500);
  }

  // The last event this page applied: a stream opened again starts after it.
  var lastSeen = null;

  function handle(event) {
    var data;
    if (event.lastEventId) {
      lastSeen = event.lastEventId;
    }
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (page === "thread") {
      onThread(data);
    } else if (page === "list") {
      // The list is current as events come: "Mark all read" covers what
      // it has shown, not only what was there when it was rendered.
      var seen = chat.querySelector('.mark-read input[name="seen"]');
      if (seen) {
        seen.value = "";
      }
      onList(data);
    }
  }

  // Too long away: the events missed were pruned, so the page reloads itself,
  // unless the student is typing: then it says so and leaves the draft alone.
  function onReload() {
    source.close();
    source = null;
    stopped = true;
    var typing = Array.prototype.some.call(document.querySelectorAll("textarea, input[type=text]"), function (box) {
      return box.value !== box.defaultValue;
    });
    if (typing) {
      say("This page missed some updates. Reload it to see them, once your text is sent or copied.");
    } else {
      window.location.reload();
    }
  }

  var source = null;
  var stopped = false;
  function listen() {
    var url = chat.getAttribute("data-events");
    if (lastSeen !== null) {
      url = url.replace(/([?&]after=)[^&]*/, "$1" + encodeURIComponent(lastSeen));
    }
    var opened = new EventSource(url);
    ["thread", "reply", "edit", "delete", "hide", "restore"].forEach(function (kind) {
      opened.addEventListener(kind, handle);
    });
    opened.addEventListener("reload", onReload);
    // A stream the server refused or ended (signed out, left the class, too
    // many tabs) does not come back by itself: say so, and try again the
    // next time this tab is shown.
    opened.addEventListener("error", function () {
      if (opened.readyState === 2 && source === opened) {
        source = null;
        say("Live updates stopped. Close other Common Grounds tabs; this page tries again when you come back to it, or reload it.");
      }
    });
    source = opened;
  }
  function quiet() {
    if (source) {
      source.close();
      source = null;
    }
  }
  // A tab opened in the background waits until it is shown.
  if (!document.hidden) {
    listen();
  }
  // A tab out of sight gives its stream back (a session may hold only a few),
  // and takes up where it left off when seen again; so does a page the
  // browser kept and shows again (back/forward).
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      quiet();
    } else if (!source && !stopped) {
      listen();
    }
  });
  window.addEventListener("pagehide", quiet);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !source && !stopped) {
      listen();
    }
  });

  // "5 min ago" was right when the page was rendered. A page that stays open
  // and takes rows live keeps its relative times right, so older rows never
  // read newer than the rows that came since. As on the server, "2 h ago"
  // holds only within the campus day; past midnight the label is left for a
  // reload to say "yesterday, …". Dates are left as they are.
  var zone = chat.getAttribute("data-zone");
  function campusDay(ms) {
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
    } catch (e) {
      return null;
    }
  }
  window.setInterval(function () {
    var now = Date.now();
    var today = campusDay(now);
    Array.prototype.forEach.call(chat.querySelectorAll("time[datetime]"), function (time) {
      if (!/^(just now|\d+ min ago|\d+ h ago)$/.test(time.textContent)) {
        return;
      }
      var at = Date.parse(time.getAttribute("datetime"));
      if (isNaN(at)) {
        return;
      }
      var minutes = Math.floor((now - at) / 60000);
      if (minutes >= 60 && (today === null || campusDay(at) !== today)) {
        return;
      }
      var label = minutes < 1 ? "just now" : minutes < 60 ? minutes + " min ago" : Math.floor(minutes / 60) + " h ago";
      if (time.textContent !== label) {
        time.textContent = label;
      }
    });
  }, 60000);

  // A Cancel link in an open form closes it instead of leaving the page.
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("a.cancel");
    if (!cancel) {
      return;
    }
    var details = cancel.closest("details");
    if (details) {
      event.preventDefault();
      details.open = false;
      var summary = details.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    }
  });
})();

// Ask before you post: while a student writes a new thread, show the class's
// threads that may already answer it (the fragment the server renders, the
// same list the no-script preview step shows), asked for 400 ms after the last
// keystroke. Once some were shown, the form posts without the preview step.
(function askBeforePosting() {
  "use strict";

  var form = document.querySelector("form.compose[data-similar]");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var token = form.querySelector("input[name=csrf_token]");
  var box = form.querySelector("textarea[name=content]");
  var region = form.querySelector(".similar-threads");
  // A short line is what a screen reader hears, and only when the number
  // of threads changes; the list itself is not read out at every pause.
  var status = document.getElementById("similar-status");
  var counted = 0;
  var confirmed = form.querySelector("input[name=confirmed]");
  if (!box || !region || !confirmed) {
    return;
  }
  var timer = null;
  var asked = "";
  var latest = 0;
  var shown = "";

  function show(html) {
    // The same list again is not news.
    if (html === shown) {
      return;
    }
    shown = html;
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    while (region.firstChild) {
      region.removeChild(region.firstChild);
    }
    region.appendChild(holder.content);
    if (region.querySelector("a")) {
      confirmed.value = "1";
    }
    var count = region.querySelectorAll("li").length;
    if (status && count !== counted) {
      counted = count;
      status.textContent = count === 0 ? "" : count === 1
        ? "1 thread may already answer this; it is listed below the box."
        : count + " threads may already answer this; they are listed below the box.";
    }
  }

  function ask() {
    // The first 500 characters say what it is about (counted by code point:
    // a cut through an emoji's pair would send half of it).
    var draft = Array.from(box.value.trim()).slice(0, 500).join("");
    if (draft === asked) {
      return;
    }
    asked = draft;
    latest += 1;
    var mine = latest;
    if (draft.length < 3) {
      show("");
      return;
    }
    // In the body, not the address: a draft must not sit in an access log.
    var body = new URLSearchParams();
    body.set("csrf_token", token ? token.value : "");
    body.set("q", draft);
    window
      .fetch(form.getAttribute("data-similar"), {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        body: body,
      })
      .then(function (response) {
        // A signed-out student's request is answered 404 (or sent to sign
        // in): never put another page inside the form.
        var fragment =
          response.ok &&
          !response.redirected &&
          (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
        return fragment ? response.text() : "";
      })
      .then(function (html) {
        // An older answer arriving late must not replace a newer one.
        if (mine === latest) {
          show(html);
        }
      })
      .catch(function () {});
  }

  box.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 400);
  });
})();

// The nav's unread count, live: on every page that shows it, the student's
// own stream (/notifications/events) sends the count at once and whenever it
// changes, and every badge shows it ("99+" from 100, hidden at 0), as a
// reload would. Only a visible tab holds the stream: a hidden one closes it
// and is sent the count again when it is shown.
(function liveUnreadCount() {
  "use strict";

  var badges = document.querySelectorAll("[data-unread-count]");
  if (!badges.length || !window.EventSource || document.hidden === undefined) {
    return;
  }
  var source = null;

  function show(count) {
    var text = count >= 100 ? "99+" : String(count);
    Array.prototype.forEach.call(badges, function (badge) {
      var first = badge.firstChild;
      if (first && first.nodeType === 3) {
        first.nodeValue = text;
      } else {
        badge.insertBefore(document.createTextNode(text), first);
      }
      badge.hidden = count === 0;
    });
  }

  function open() {
    if (source || document.hidden) {
      return;
    }
    source = new EventSource("/notifications/events");
    source.addEventListener("unread", function (event) {
      var count = Number(event.data);
      if (isFinite(count) && count >= 0 && Math.floor(count) === count) {
        show(count);
      }
    });
  }

  function close() {
    if (source) {
      source.close();
      source = null;
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      close();
    } else {
      open();
    }
  });
  window.addEventListener("pagehide", close);
  // Back to a page kept in the back/forward cache: its count may be old.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      open();
    }
  });
  open();
})();
