-- The gateways running on this database and the control-plane version
-- (the sum of `versions`) each one serves. A CLI that changed keys,
-- prices, routes or providers waits until every live gateway on its host
-- reports the new version, so that when the command returns, the change
-- holds for the very next request. pid is meaningful on its host only.
CREATE TABLE gateways (
  host       TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  PRIMARY KEY (host, pid)
);
