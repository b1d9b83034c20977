// Client bundle of the sample web front end (stands in for a Next.js build output).
// Served by CloudFront from S3 under /_next/static/, never by the web server itself.
document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.dataset.hydrated = "true";
  const marker = document.getElementById("client-status");
  if (marker) {
    marker.textContent = "static assets loaded";
  }
});
