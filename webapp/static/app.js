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
});
