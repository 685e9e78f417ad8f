"""The platform's one instance of each backing service. Every object of an instance is named
after it (components/<capability>/manifests.py), so the composition, the table of who talks to
whom and the pools' Secret references all name them from here."""

from __future__ import annotations

from components.postgres.manifests import PostgresNames
from components.rabbitmq.manifests import RabbitmqNames
from components.redis.manifests import RedisNames

POSTGRES = PostgresNames("postgres")
REDIS = RedisNames("redis")
RABBITMQ = RabbitmqNames("rabbitmq")
# The load balancer in front of the API (its objects: haproxy, haproxy-peers, haproxy-stats, ...).
LOAD_BALANCER = "haproxy"
