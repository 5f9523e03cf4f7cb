#!/bin/sh
# Run once by the postgres image's entrypoint when the data volume is first initialized:
# the group roles that `tally migrate` grants to (it creates them too, when missing) and
# one login role in each, for the query API and the projectors (see compose.yml).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v api_password="$POSTGRES_API_PASSWORD" \
  -v projector_password="$POSTGRES_PROJECTOR_PASSWORD" <<'SQL'
CREATE ROLE tally_query NOLOGIN;
CREATE ROLE tally_projector NOLOGIN;
CREATE ROLE tally_api LOGIN PASSWORD :'api_password' IN ROLE tally_query;
CREATE ROLE tally_projection LOGIN PASSWORD :'projector_password' IN ROLE tally_projector;
SQL
