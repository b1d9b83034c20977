"""Sample API service that the platform deploys by default on ECS Fargate.

Four commands (``python -m sample_api <command>``), each importing only what it needs:

* ``serve``: a stdlib HTTP server (``GET /api/health``, ``GET /``); stdlib only.
* ``migrate``: applies ``migrations/*.sql`` once each, in name order (psycopg).
* ``worker``: handles the messages of the SQS queue ``$QUEUE_URL`` until SIGTERM (boto3).
* ``cleanup``: deletes ``example`` rows older than ``$CLEANUP_RETENTION_DAYS`` (psycopg).
"""

SERVICE_NAME = "sample-api"
