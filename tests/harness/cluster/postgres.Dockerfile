# A STAND-IN for the official postgres:15-bookworm image, which cannot be pulled here: Debian's PostgreSQL 15 behind
# an entrypoint that honours the same variables (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD, PGDATA) and uid 999.
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN groupadd -g 999 postgres && useradd -u 999 -g 999 -d /var/lib/postgresql -s /bin/sh postgres \
 && mkdir -p /etc/postgresql-common/createcluster.d \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main.conf \
 && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY tests/harness/cluster/postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
