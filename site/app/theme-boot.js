// Classic (blocking) script: apply the remembered theme before first paint, so dark mode does not flash.
try {
  var th = localStorage.getItem("vram-insight:theme");
  if (th === "light" || th === "dark") document.documentElement.dataset.theme = th;
} catch (e) {
  /* storage disabled */
}
