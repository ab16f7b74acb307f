() => {
  /* Runs once when the chat loads (passed to Gradio as `js`).

     1. Screen readers: Gradio labels each message with its raw content, which for our answers
        is HTML source. Replace that with a short role label, so the message itself (headings,
        quotes, the sources list) is what gets read.
     2. Reading position: when a new question is asked, scroll the chat so that the question is
        at the top. The answer then starts on screen, instead of Gradio scrolling to the
        bottom of the last source card. */
  const relabel = (root) => {
    root.querySelectorAll('[data-testid="user"], [data-testid="bot"]').forEach((el) => {
      const label = el.dataset.testid === "user" ? "You asked" : "Answer";
      if (el.getAttribute("aria-label") !== label) {
        el.setAttribute("role", "article");
        el.setAttribute("aria-label", label);
      }
    });
  };
  const scroller = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (/(auto|scroll)/.test(style.overflowY) && p.scrollHeight > p.clientHeight) return p;
    }
    return null;
  };
  let questions = 0;
  let following = false;
  const follow = (root) => {
    const rows = root.querySelectorAll('[data-testid="user"]');
    if (rows.length > questions) following = true;
    questions = rows.length;
    if (!following || !rows.length) return;
    // Keep the new question at the top while its answer grows from "Searching…" to sources.
    const last = rows[rows.length - 1];
    const box = scroller(last);
    if (box) {
      const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTo({ top: box.scrollTop + top - 8 });
    }
    const bots = root.querySelectorAll('[data-testid="bot"]');
    const answer = bots.length >= rows.length && bots[bots.length - 1];
    if (answer && answer.querySelector(".cr-answer, .cr-error")) following = false;
  };
  const watch = () => {
    const chat = document.getElementById("cr-chat");
    if (!chat) return false;
    relabel(chat);
    questions = chat.querySelectorAll('[data-testid="user"]').length;
    new MutationObserver(() => { relabel(chat); follow(chat); })
      .observe(chat, { childList: true, subtree: true });
    return true;
  };
  if (!watch()) {
    const wait = new MutationObserver(() => { if (watch()) wait.disconnect(); });
    wait.observe(document.body, { childList: true, subtree: true });
  }

  /* ---- 3. "Copy citation" on a source card (issue 10) ------------------------------------
     ui/render.py puts the text to copy in the button's `value` (plain) and in a hidden
     .cr-cite-rich span (with the style's italics): Gradio's sanitiser drops data-*
     attributes. One listener on the document serves every card, including cards Gradio
     renders later. The clipboard API exists only in a secure context (https, localhost); on
     plain http the text is copied from a selected textarea, and if even that is refused it is
     left selected on the card for Ctrl+C. */
  const copySelected = (text, button) => {
    const box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.className = "cr-copy-text";
    button.insertAdjacentElement("afterend", box);
    box.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    if (done) box.remove();
    return done;
  };
  const copyCitation = async (button) => {
    const text = button.value || "";
    const rich = button.querySelector(".cr-cite-rich");
    const html = rich ? rich.innerHTML : "";
    if (navigator.clipboard && window.isSecureContext) {
      try {
        if (html && window.ClipboardItem) {
          await navigator.clipboard.write([new ClipboardItem({
            "text/plain": new Blob([text], { type: "text/plain" }),
            "text/html": new Blob([html], { type: "text/html" }),
          })]);
        } else {
          await navigator.clipboard.writeText(text);
        }
        return true;
      } catch (e) { /* refused (permissions): fall back to the selection */ }
    }
    return copySelected(text, button);
  };
  document.addEventListener("click", async (event) => {
    const button = event.target instanceof Element && event.target.closest(".cr-copy");
    const label = button && button.querySelector(".cr-copy-label");
    if (!button || !button.value || !label) return;
    const copied = await copyCitation(button);
    if (!label.dataset.label) label.dataset.label = label.innerHTML;
    label.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
    button.classList.add("cr-copied");
    clearTimeout(button.crTimer);
    button.crTimer = setTimeout(() => {
      label.innerHTML = label.dataset.label;
      button.classList.remove("cr-copied");
    }, 2000);
  });
}
