"""One-shot ECS (Fargate) database-migration runner: custom-resource Lambda + CLI core."""
