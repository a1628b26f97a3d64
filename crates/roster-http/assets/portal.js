// Roster admin portal: enhancements only. Every page works without this file; with it,
// Copy buttons appear next to the token and the target SCIM URL, and the tenant switcher
// switches as soon as a tenant is chosen. No inline scripts: the CSP forbids them.
(function () {
  'use strict';

  function prepare(root) {
    root.querySelectorAll('[data-copy]').forEach(function (b) { b.hidden = false; });
    root.querySelectorAll('[data-js-hide]').forEach(function (el) { el.hidden = true; });
  }

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function legacyCopy(el) {
    selectText(el);
    try {
      return document.execCommand('copy');
    } catch (e) {
      return false;
    }
  }

  function copy(button) {
    var el = document.getElementById(button.getAttribute('data-copy'));
    if (!el) return;
    var text = el.textContent.trim();
    var done = function () {
      button.textContent = 'Copied';
      button.classList.add('copied');
      window.setTimeout(function () {
        button.textContent = 'Copy';
        button.classList.remove('copied');
      }, 2000);
    };
    var failed = function () {
      selectText(el);
      button.textContent = 'Press Ctrl+C';
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        if (legacyCopy(el)) done(); else failed();
      });
    } else if (legacyCopy(el)) {
      done();
    } else {
      failed();
    }
  }

  document.addEventListener('click', function (e) {
    var button = e.target.closest ? e.target.closest('[data-copy]') : null;
    if (button) {
      e.preventDefault();
      copy(button);
    }
  });

  document.addEventListener('change', function (e) {
    var el = e.target;
    if (el.matches && el.matches('select[data-autosubmit]') && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  document.addEventListener('DOMContentLoaded', function () { prepare(document); });
  document.addEventListener('htmx:load', function (e) { prepare(e.target); });
})();
