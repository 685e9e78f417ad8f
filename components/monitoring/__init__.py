"""The monitoring stack: alert rules as data, their PrometheusRule, and the scrape cross-checks."""
