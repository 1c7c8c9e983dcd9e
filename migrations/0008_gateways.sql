-- The gateways running on this database and the versions (sums of
-- `versions` counters, as store_keys_version() reads them) each one
-- serves: version for keys, prices and routes, providers_version for
-- providers. A CLI that changed something waits until every live gateway
-- on its host reports the new version, so that when the command returns,
-- the change holds for the very next request. pid is meaningful on its
-- host only.
CREATE TABLE gateways (
  host              TEXT    NOT NULL,
  pid               INTEGER NOT NULL,
  version           INTEGER NOT NULL,
  providers_version INTEGER NOT NULL,
  started_at        INTEGER NOT NULL,
  PRIMARY KEY (host, pid)
);
