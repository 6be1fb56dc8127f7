// The offline page reconnects by itself: when the browser is back
// online, and every 5 seconds, it asks the server whether it answers and
// reloads the page that was wanted once it does.
(function () {
  const status = document.getElementById("retry");
  async function retry() {
    try {
      const response = await fetch("/api/v1/status", { cache: "no-store" });
      if (response.ok || response.status === 503) {
        location.reload();
        return;
      }
    } catch (_) {
      // still offline
    }
    if (status) {
      status.textContent = "Still out of reach; trying again every few seconds…";
    }
  }
  addEventListener("online", retry);
  setInterval(retry, 5000);
})();
