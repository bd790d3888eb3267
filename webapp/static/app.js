// Progressive enhancement only: every form works without this file.
// Drag-and-drop and the file button submit the image search; ticking a filter applies it.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", function () {
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("upload-input");
  var form = document.getElementById("upload-form");

  if (zone && input && form) {
    input.addEventListener("change", function () {
      if (input.files && input.files.length) {
        zone.classList.add("has-file");
        form.submit();
      }
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) { return; }
      input.files = files;  // the form posts exactly what a click on the button would have chosen
      zone.classList.add("has-file");
      form.submit();
    });
  }

  // "Search by faces" ticked: the chosen image goes to the face search instead.
  var faces = document.getElementById("upload-faces");
  if (faces && form) {
    form.addEventListener("submit", function () {
      if (faces.checked) { form.action = faces.getAttribute("data-action"); }
    });
    var submit = form.submit;
    form.submit = function () {
      if (faces.checked) { form.action = faces.getAttribute("data-action"); }
      submit.call(form);
    };
  }

  var filters = document.getElementById("filter-form");
  if (filters) {
    // Leave empty fields out of the address, so links stay short and readable.
    filters.addEventListener("submit", function () {
      Array.prototype.forEach.call(filters.querySelectorAll("input"), function (input) {
        if (input.value === "" && input.type !== "checkbox") { input.disabled = true; }
      });
    });
    filters.addEventListener("change", function (event) {
      if (event.target && event.target.type === "checkbox") {
        filters.requestSubmit ? filters.requestSubmit() : filters.submit();
      }
    });
  }

  // Search by a region: drag a box over the picture (or click a line of text read in it) and search with
  // that part of the image, keeping the page's filters: the similar-images link with box=x,y,w,h.
  var picture = document.querySelector(".image-main .picture[data-region-url]");
  if (picture) {
    var base = picture.getAttribute("data-region-url");
    var mark = document.createElement("div");
    mark.className = "region-mark";
    picture.appendChild(mark);
    var start = null;
    var relative = function (event) {
      var rect = picture.getBoundingClientRect();
      return {x: Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
              y: Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height))};
    };
    var region = function (a, b) {
      return {x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y)};
    };
    var search = function (box) {
      var values = [box.x, box.y, box.w, box.h].map(function (v) { return v.toFixed(4); });
      window.location.assign(base + (base.indexOf("?") < 0 ? "?" : "&") + "box=" + values.join(","));
    };
    var place = function (box) {
      mark.style.left = (100 * box.x) + "%";
      mark.style.top = (100 * box.y) + "%";
      mark.style.width = (100 * box.w) + "%";
      mark.style.height = (100 * box.h) + "%";
    };
    picture.addEventListener("dragstart", function (event) { event.preventDefault(); });
    picture.addEventListener("pointerdown", function (event) {
      if (event.target.closest && event.target.closest(".text-box, .face-box")) { return; }
      event.preventDefault();
      start = relative(event);
      picture.classList.add("marking");
      place({x: start.x, y: start.y, w: 0, h: 0});
    });
    picture.addEventListener("pointermove", function (event) {
      if (start) { place(region(start, relative(event))); }
    });
    picture.addEventListener("pointerup", function (event) {
      if (!start) { return; }
      var box = region(start, relative(event));
      start = null;
      picture.classList.remove("marking");
      if (box.w > 0.02 && box.h > 0.02) { search(box); }
    });
    Array.prototype.forEach.call(picture.querySelectorAll(".text-box"), function (line) {
      line.addEventListener("click", function () {
        search({x: +line.getAttribute("x"), y: +line.getAttribute("y"),
                w: +line.getAttribute("width"), h: +line.getAttribute("height")});
      });
    });
  }

  // Calls to the write API with a write key, asked for once per tab (kept in this tab's session storage only).
  var actionError = document.getElementById("action-error");
  function writeKey() {
    return window.sessionStorage.getItem("imgsearch-write-key") || window.prompt("API key (write)") || null;
  }
  function callApi(url, method, body, key) {
    var headers = {"Authorization": "ApiKey " + key};
    if (body !== null) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {method: method, headers: headers, body: body === null ? null : JSON.stringify(body)})
      .then(function (response) {
        if (response.ok) {
          window.sessionStorage.setItem("imgsearch-write-key", key);
          return response.json();
        }
        if (response.status === 401 || response.status === 403) {
          window.sessionStorage.removeItem("imgsearch-write-key");
        }
        return response.json().then(function (answer) {
          throw new Error((answer && answer.error && answer.error.message) || response.statusText);
        }, function () { throw new Error(response.statusText); });
      });
  }
  function showError(error) {
    if (actionError) {
      actionError.textContent = error.message;
      actionError.hidden = false;
    }
  }

  // Naming, merging, splitting and removing people.
  Array.prototype.forEach.call(document.querySelectorAll("form.person-action"), function (action) {
    action.addEventListener("submit", function (event) {
      event.preventDefault();
      var question = action.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { return; }
      var key = writeKey();
      if (!key) { return; }
      var body = {};
      Array.prototype.forEach.call(action.querySelectorAll("input[name]"), function (input) {
        body[input.name] = input.value;
      });
      if (action.getAttribute("data-images")) { body.images = [action.getAttribute("data-images")]; }
      var method = action.getAttribute("data-method");
      callApi(action.getAttribute("data-url"), method, method === "DELETE" ? null : body, key)
        .then(function () { window.location.reload(); })
        .catch(showError);
    });
  });

  // The watchlist review queue: fetched with the write key, each image drawn beside what it matched.
  var review = document.getElementById("review");
  var reviewFilter = document.getElementById("review-filter");
  if (review && reviewFilter) {
    var total = document.getElementById("review-total");
    var text = function (tag, content, className) {
      var element = document.createElement(tag);
      element.textContent = content;
      if (className) { element.className = className; }
      return element;
    };
    var picture = function (src, alt) {
      var image = document.createElement("img");
      image.src = src;
      image.alt = alt;
      image.loading = "lazy";
      return image;
    };
    var button = function (label, className, act) {
      var element = text("button", label, className);
      element.type = "button";
      element.addEventListener("click", act);
      return element;
    };
    var load = function () {
      var key = writeKey();
      if (!key) { return; }
      var status = reviewFilter.elements.status.value;
      callApi(review.getAttribute("data-api") + "?size=48" + (status ? "&status=" + encodeURIComponent(status) : ""),
              "GET", null, key).then(function (answer) { draw(answer, key); }).catch(showError);
    };
    var act = function (url, method, key) {
      callApi(url, method, null, key).then(load).catch(showError);
    };
    var draw = function (answer, key) {
      review.textContent = "";
      total.textContent = total.getAttribute("data-text").replace("{count}", answer.total);
      if (!answer.items.length) { review.appendChild(text("li", review.getAttribute("data-none"), "notice")); }
      answer.items.forEach(function (item) {
        var card = document.createElement("li");
        card.className = "card review-item " + item.watchlist_status;
        card.setAttribute("data-id", item.id);
        if (item.thumbnail) { card.appendChild(picture(item.thumbnail, item.title || item.id)); }
        var body = document.createElement("div");
        body.className = "card-body";
        body.appendChild(text("strong", item.title || item.id));
        body.appendChild(text("p", item.watchlist_status + " · " + item.watchlists.join(", "), "review-status"));
        item.matches.forEach(function (match) {
          var figure = document.createElement("figure");
          figure.className = "review-match";
          if (match.reference_thumbnail) {
            figure.appendChild(picture(match.reference_thumbnail, match.reference_name || match.reference));
          }
          var said = match.prompt ? review.getAttribute("data-prompt") + ": " + match.prompt
            : review.getAttribute("data-reference") + ": " + (match.reference_name || match.reference);
          said += " (" + match.list + ") · " + review.getAttribute("data-similarity") + " " + match.similarity.toFixed(3);
          if (match.distance !== null && match.distance !== undefined) {
            said += " · " + review.getAttribute("data-distance") + " " + match.distance;
          }
          figure.appendChild(text("figcaption", said));
          body.appendChild(figure);
        });
        var id = encodeURIComponent(item.id);
        body.appendChild(button(review.getAttribute("data-release"), "", function () {
          act(review.getAttribute("data-api") + "/" + id + "/release", "POST", key);
        }));
        body.appendChild(button(review.getAttribute("data-delete"), "danger", function () {
          if (window.confirm(review.getAttribute("data-confirm"))) {
            act(review.getAttribute("data-images") + "/" + id, "DELETE", key);
          }
        }));
        card.appendChild(body);
        review.appendChild(card);
      });
    };
    reviewFilter.addEventListener("submit", function (event) {
      event.preventDefault();
      load();
    });
    load();
  }

  // "Recommended next" (IMGSEARCH_RECOMMEND_NEXT): the last images viewed in this browser, kept in its local
  // storage only, the newest first; the server is told them for this one request and keeps nothing.
  var recommended = document.getElementById("recommended");
  if (recommended) {
    var current = recommended.getAttribute("data-current");
    var history = [];
    try { history = JSON.parse(window.localStorage.getItem("imgsearch-viewed") || "[]"); } catch (ignored) { history = []; }
    if (!Array.isArray(history)) { history = []; }
    history = [current].concat(history.filter(function (id) { return typeof id === "string" && id !== current; }));
    history = history.slice(0, 16);
    try { window.localStorage.setItem("imgsearch-viewed", JSON.stringify(history)); } catch (ignored) { /* full or off */ }
    var query = history.map(function (id) { return "viewed=" + encodeURIComponent(id); }).join("&");
    fetch(recommended.getAttribute("data-api") + "?size=6&" + query)
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer || !answer.hits.length) { return; }
        var list = recommended.querySelector("ul");
        answer.hits.forEach(function (hit) {
          var card = document.createElement("li");
          card.className = "card";
          card.setAttribute("data-id", hit.id);
          var link = document.createElement("a");
          link.className = "thumb";
          link.href = hit.links.page;
          if (hit.links.thumbnail) {
            var picture = document.createElement("img");
            picture.src = hit.links.thumbnail;
            picture.alt = (hit.image && hit.image.title) || hit.id;
            picture.loading = "lazy";
            link.appendChild(picture);
          }
          card.appendChild(link);
          list.appendChild(card);
        });
        recommended.hidden = false;
      })
      .catch(function () { /* recommendations are a nicety: none is shown */ });
  }
});
