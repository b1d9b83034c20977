"""Architecture diagrams generated from a synthesized cloud assembly (`make synth`).

    python -m architecture_diagram [--assembly cdk.out] [--out cdk.out/diagrams]

Writes `<Stage>.md` per stage: a Mermaid flowchart read from the templates, not drawn by
hand. One subgraph per stack; the edge (CloudFront, its web ACL, the static bucket and what
each path goes to), the load balancer and its routes (path, host) to each service, Service
Connect calls between services (a `http://<alias>:<port>` in a task's environment), the
data stores each workload reads (references to the Database / Storage stacks), queues
(who sends, who receives: the task roles' SQS permissions) and scheduled jobs.

Modules: `graph` (what is connected to what) and `mermaid` (rendering).
"""
