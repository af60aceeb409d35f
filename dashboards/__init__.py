"""Grafana dashboards as code: ``<name>.py`` builds a dashboard, ``generate`` renders them
to ``generated/*.json``, ``provisioning/`` loads them into Grafana, ``push`` uploads them."""
