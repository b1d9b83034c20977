"""Sample API service that the platform deploys by default on ECS Fargate.

Two commands (``python -m sample_api <command>``):

* ``serve``: a stdlib HTTP server (``GET /api/health``, ``GET /``).
* ``migrate``: applies ``migrations/*.sql`` once each, in name order.
"""

SERVICE_NAME = "sample-api"
