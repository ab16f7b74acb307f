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
}
