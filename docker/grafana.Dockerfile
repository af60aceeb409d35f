# syntax=docker/dockerfile:1
# Grafana with the ClickHouse plugin and the classroom dashboards baked in, so that an
# air-gapped school needs no plugin download and a cluster needs no dashboard ConfigMaps.
# Build from the repository root (after `classroom dashboards generate`):
#   docker build -f docker/grafana.Dockerfile -t classroom-grafana:0.1.0 .
FROM grafana/grafana:12.2.1

ARG CLICKHOUSE_PLUGIN_VERSION=4.11.2
# Plugins and dashboards stay in the image; only Grafana's own database goes to the data
# volume (GF_PATHS_DATA), so an upgraded image is never shadowed by an old volume.
RUN grafana cli --pluginsDir /var/lib/grafana/plugins \
    plugins install grafana-clickhouse-datasource "${CLICKHOUSE_PLUGIN_VERSION}" \
    && mkdir -p /var/lib/grafana/data
COPY dashboards/provisioning /etc/grafana/provisioning
COPY dashboards/generated /var/lib/grafana/dashboards/classroom
ENV GF_PATHS_DATA=/var/lib/grafana/data \
    GF_PLUGINS_PLUGIN_ADMIN_ENABLED=false \
    GF_ANALYTICS_REPORTING_ENABLED=false \
    GF_ANALYTICS_CHECK_FOR_UPDATES=false \
    GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES=false
USER 472
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["wget", "--quiet", "--spider", "http://127.0.0.1:3000/api/health"]
