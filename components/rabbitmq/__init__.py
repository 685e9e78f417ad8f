"""RabbitMQ through the RabbitMQ Cluster Operator: quorum queues, program-owned credentials."""
