"""Sample web front end (stands in for a Next.js server-side-rendering server).

One command (``python -m sample_web serve``): a stdlib HTTP server that renders ``GET /``
(calling the API server-side) and answers ``GET /healthz``. The content-hashed static files
under ``/_next/static/`` are served by CloudFront from S3, never by this server.
"""

SERVICE_NAME = "sample-web"
