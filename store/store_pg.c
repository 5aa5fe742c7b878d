/*
 * The PostgreSQL backend: one database for a fleet of passkeyd instances.
 *
 * The store is passed as a libpq connection URI, whole, so sslmode,
 * verify-full, passfile, target_session_attrs and the rest work as libpq
 * documents them.  Semantics are the SQLite backend's (store.h), with
 * concurrent writers in mind:
 *   - the schema is created or migrated under an advisory lock, so N
 *     instances starting at once migrate exactly once; a newer schema is
 *     refused and left untouched;
 *   - the sign counter is a compare-and-set in one UPDATE: under READ
 *     COMMITTED a second writer of the same row waits for the first and
 *     re-checks the condition on the new row, so of two uses of one counter
 *     exactly one is stored;
 *   - the last-passkey check and a registration's enrollment check take
 *     the user's (or the enrollment's) row lock first, so two writers
 *     cannot both pass them.
 * Every statement is prepared once per connection, with parameters bound;
 * results come in binary.  The connection itself (bounded waits, the
 * reconnect) is store_pg_conn.c's; ceremonies are store_pg_ceremony.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store_pg.h"

#define PG_ADVISORY_KEY	0x706173736b657931LL	/* "passkey1": migrations */
/* how old (seconds) the fleet's pending counts may be and still be used */
#define PK_COUNTS_FRESH	"10"

static const struct store_ops pg_ops;

/* Schema steps, oldest first; step i takes the version from i to i + 1. */
static const char *const pg_migrations[] = {
	/* 1: the schema of SQLite's version 2, in PostgreSQL's types */
	"CREATE TABLE pk_meta ("
	"  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	"  version integer NOT NULL);"
	"INSERT INTO pk_meta (version) VALUES (0);"
	"CREATE TABLE users ("
	"  name text PRIMARY KEY,"
	"  handle bytea UNIQUE NOT NULL CHECK (length(handle) = 32),"
	"  created bigint NOT NULL);"
	"CREATE TABLE credentials ("
	"  seq bigserial UNIQUE NOT NULL,"
	"  id bytea PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 1023),"
	"  user_name text NOT NULL REFERENCES users(name),"
	"  alg integer NOT NULL,"
	"  pubkey_cose bytea NOT NULL CHECK (length(pubkey_cose) > 0),"
	"  sign_count bigint NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),"
	"  fmt text NOT NULL,"
	"  aaguid bytea NOT NULL CHECK (length(aaguid) = 16),"
	"  uv boolean NOT NULL, be boolean NOT NULL, bs boolean NOT NULL,"
	"  attestation text NOT NULL,"
	"  nickname text,"
	"  created bigint NOT NULL,"
	"  last_used bigint NOT NULL DEFAULT 0,"
	"  last_addr text,"
	"  id_hash text COLLATE \"C\" NOT NULL);"
	"CREATE INDEX credentials_user ON credentials (user_name, created);"
	"CREATE INDEX credentials_id_hash ON credentials (id_hash);"
	"CREATE TABLE enrollments ("
	"  user_name text PRIMARY KEY,"
	"  created bigint NOT NULL,"
	"  expires bigint NOT NULL,"
	"  created_by text);"
	"CREATE TABLE events ("
	"  id bigserial PRIMARY KEY,"
	"  time bigint NOT NULL,"
	"  event text NOT NULL,"
	"  user_name text,"
	"  addr text,"
	"  verdict text NOT NULL,"
	"  reason text,"
	"  detail text);"
	"CREATE INDEX events_user ON events (user_name, id);",

	/*
	 * 2: ceremonies, for a fleet.  Keyed by the token's SHA-256; the
	 * token is never stored.  The admit trigger runs as the owner: it
	 * stamps who made the row (and a host's registered name), caps a
	 * host's lifetimes and counts the fleet's limits over every host's
	 * rows, which the caller may not see.  A change of state is
	 * announced to the host that made the row (LISTEN "pk:ROLE"; since
	 * migration 12 a channel of random digits per role).
	 * Row-level security is on; the policies come with the roles
	 * (store_fleet_sql).  The owner, as ever, passes it.
	 */
	"CREATE TABLE pk_hosts ("
	"  role name PRIMARY KEY,"
	"  hostname text UNIQUE NOT NULL CHECK (length(hostname) BETWEEN 1 AND 253));"
	"CREATE TABLE pk_limits ("
	"  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	"  per_user integer NOT NULL, per_address integer NOT NULL,"
	"  per_user_address integer NOT NULL, per_host integer NOT NULL,"
	"  total integer NOT NULL, host_lifetime integer NOT NULL);"
	"INSERT INTO pk_limits VALUES (true, 32, 64, 4, 10000, 100000, 900);"
	"CREATE TABLE ceremonies ("
	"  token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),"
	"  host_role name NOT NULL DEFAULT session_user,"
	"  hostname text NOT NULL,"
	"  kind text NOT NULL CHECK (kind IN ('login', 'register')),"
	"  state text NOT NULL CHECK (state IN ('pending', 'approved', 'used', 'denied',"
	"    'failed', 'expired', 'cancelled')),"
	"  reason text,"
	"  code text NOT NULL,"
	"  user_name text NOT NULL, rhost text NOT NULL, service text NOT NULL,"
	"  addr_key text NOT NULL,"
	"  challenge bytea NOT NULL CHECK (length(challenge) = 32),"
	"  user_handle bytea CHECK (user_handle IS NULL OR length(user_handle) = 32),"
	"  consumes_enrollment boolean NOT NULL DEFAULT false,"
	"  created bigint NOT NULL, expires bigint NOT NULL, finished bigint);"
	"CREATE INDEX ceremonies_pending ON ceremonies (expires) WHERE state = 'pending';"
	"CREATE INDEX ceremonies_pending_user ON ceremonies (user_name) WHERE state = 'pending';"
	"CREATE INDEX ceremonies_pending_addr ON ceremonies (addr_key) WHERE state = 'pending';"
	"CREATE INDEX ceremonies_pending_host ON ceremonies (host_role) WHERE state = 'pending';"
	"CREATE INDEX ceremonies_final ON ceremonies (finished) WHERE state <> 'pending';"
	"ALTER TABLE ceremonies ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE pk_hosts ENABLE ROW LEVEL SECURITY;"
	"CREATE FUNCTION pk_ceremony_admit() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER SET search_path FROM CURRENT AS $f$\n"
	"DECLARE lim pk_limits; n bigint; now_s bigint := floor(extract(epoch FROM now()));"
	"  host text;\n"
	"BEGIN\n"
	"  SELECT * INTO lim FROM pk_limits;\n"
	"  NEW.host_role := session_user;\n"
	"  NEW.state := 'pending'; NEW.reason := NULL; NEW.finished := NULL;\n"
	"  SELECT hostname INTO host FROM pk_hosts WHERE role = session_user;\n"
	"  IF host IS NOT NULL THEN\n"
	"    NEW.hostname := host;\n"
	"    NEW.created := now_s;\n"
	"    NEW.consumes_enrollment := NEW.consumes_enrollment AND NEW.kind = 'register';\n"
	"    IF NEW.expires > now_s + lim.host_lifetime THEN\n"
	"      NEW.expires := now_s + lim.host_lifetime;\n"
	"    END IF;\n"
	"  END IF;\n"
	"  PERFORM pg_advisory_xact_lock(hashtextextended('pk:u:' || NEW.user_name, 0));\n"
	"  SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s;\n"
	"  IF n >= lim.total THEN RAISE EXCEPTION 'limit_total' USING ERRCODE = 'PK001'; END IF;\n"
	"  SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"    AND host_role = session_user;\n"
	"  IF n >= lim.per_host THEN RAISE EXCEPTION 'limit_host' USING ERRCODE = 'PK001'; END IF;\n"
	"  IF NEW.addr_key <> '' THEN\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"      AND user_name = NEW.user_name AND addr_key = NEW.addr_key;\n"
	"    IF n >= lim.per_user_address THEN\n"
	"      RAISE EXCEPTION 'limit_user_address' USING ERRCODE = 'PK001';\n"
	"    END IF;\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"      AND addr_key = NEW.addr_key;\n"
	"    IF n >= lim.per_address THEN\n"
	"      RAISE EXCEPTION 'limit_address' USING ERRCODE = 'PK001';\n"
	"    END IF;\n"
	"  END IF;\n"
	"  SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"    AND user_name = NEW.user_name;\n"
	"  IF n >= lim.per_user THEN RAISE EXCEPTION 'limit_user' USING ERRCODE = 'PK001'; END IF;\n"
	"  RETURN NEW;\n"
	"END $f$;"
	"CREATE TRIGGER ceremonies_admit BEFORE INSERT ON ceremonies"
	"  FOR EACH ROW EXECUTE FUNCTION pk_ceremony_admit();"
	"CREATE FUNCTION pk_ceremony_announce() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
	"BEGIN\n"
	"  PERFORM pg_notify('pk:' || NEW.host_role, encode(NEW.token_hash, 'hex'));\n"
	"  RETURN NULL;\n"
	"END $f$;"
	"CREATE TRIGGER ceremonies_announce AFTER UPDATE OF state ON ceremonies"
	"  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)"
	"  EXECUTE FUNCTION pk_ceremony_announce();",

	/*
	 * 3: re-approval windows (SQLite's version 3), and what a ceremony's
	 * approval may open: its length and the client's key, chosen by the
	 * host that made the row and fixed then (no role may update them).
	 * Whatever a host writes, a window is a week at most (the CHECK).
	 */
	"CREATE TABLE windows ("
	"  id text PRIMARY KEY,"
	"  user_name text NOT NULL,"
	"  service text NOT NULL,"
	"  rhost text NOT NULL,"
	"  client_key text NOT NULL DEFAULT '',"
	"  hostname text NOT NULL,"
	"  source text NOT NULL,"
	"  cred_id bytea NOT NULL CHECK (length(cred_id) BETWEEN 1 AND 1023),"
	"  opened bigint NOT NULL,"
	"  expires bigint NOT NULL CHECK (expires > opened),"
	"  last_used bigint NOT NULL DEFAULT 0,"
	"  uses bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX windows_match ON windows (user_name, service, rhost, client_key);"
	"CREATE INDEX windows_cred ON windows (cred_id);"
	"CREATE INDEX windows_expires ON windows (expires);"
	"ALTER TABLE ceremonies"
	"  ADD COLUMN reuse integer NOT NULL DEFAULT 0 CHECK (reuse BETWEEN 0 AND 604800),"
	"  ADD COLUMN client_key text NOT NULL DEFAULT '';",

	/*
	 * 4: a row is announced only when it leaves pending.  A host follows
	 * its row from pending only (fleet.c on_notice), so every later move
	 * (approved -> used, the host's own) woke each listener for nothing:
	 * one wasted wake-up per login, per instance sharing the role.
	 */
	"DROP TRIGGER ceremonies_announce ON ceremonies;"
	"CREATE TRIGGER ceremonies_announce AFTER UPDATE OF state ON ceremonies"
	"  FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state <> 'pending')"
	"  EXECUTE FUNCTION pk_ceremony_announce();",

	/*
	 * 5: the listing of everyone's windows walks (opened, id) from where
	 * its last page ended, one range of a page's rows: no sort of them all.
	 */
	"CREATE INDEX windows_opened ON windows (opened, id);",

	/*
	 * 6: the fleet's pending counts without a walk of every pending row
	 * per begin.  At 100k pending that walk cost 6-8 ms of the server per
	 * begin, and the same again for a begin it refused: a flood near the
	 * total limit was cheap to send and dear to refuse.
	 *   - The trigger numbers each row it admits (`admitted`, from a
	 *     sequence only the owner uses: a caller's value is overwritten).
	 *   - pk_pending_recount() counts the pending rows, in total and per
	 *     host role, at most once a second fleet-wide; every web
	 *     instance's sweep asks for it (hosts may not: a host that held
	 *     the call's transaction open would hold its locks).
	 *   - A begin adds to those counts the rows admitted since: a range of
	 *     the newest rows, by index.
	 *   - One ceremony per transaction, before any other write: rows a
	 *     transaction kept uncommitted across a recount would be in
	 *     neither count (the old count at least saw the transaction's own).
	 * A row that left pending since the recount is still counted until
	 * the next one (a second or two): the limits err on the side of
	 * refusing.  So does a row admitted since that has already expired:
	 * the rows admitted since are counted by their number alone, so that
	 * no plan can walk the pending rows by expiry instead (a plan made on
	 * the statistics of a table from before a flood would).  Counts older
	 * than PK_COUNTS_FRESH seconds, or from the future (a clock stepped
	 * back), are not used: the begin counts every row, as before.
	 */
	"CREATE SEQUENCE pk_admitted;"
	"ALTER TABLE ceremonies ADD COLUMN admitted bigint;"
	"UPDATE ceremonies SET admitted = nextval('pk_admitted');"
	"ALTER TABLE ceremonies ALTER COLUMN admitted SET NOT NULL;"
	"DROP INDEX ceremonies_pending_host;"
	"CREATE INDEX ceremonies_pending_admitted ON ceremonies (admitted) WHERE state = 'pending';"
	"CREATE INDEX ceremonies_pending_host ON ceremonies (host_role, admitted)"
	"  WHERE state = 'pending';"
	"CREATE TABLE pk_pending_total ("
	"  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	"  n bigint NOT NULL, upto bigint NOT NULL, at bigint NOT NULL);"
	"INSERT INTO pk_pending_total VALUES (true, 0, 0, 0);"	/* never counted: stale */
	"CREATE TABLE pk_pending_hosts ("
	"  host_role name PRIMARY KEY, n bigint NOT NULL);"
	"ALTER TABLE pk_pending_total ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE pk_pending_hosts ENABLE ROW LEVEL SECURITY;"
	/*
	 * `upto` is read before the count, each statement with its own
	 * snapshot: a row numbered after it and counted too is counted twice
	 * (refusing sooner); one numbered before it and not yet committed at
	 * the count is missed until the next recount, as today's count, on
	 * its snapshot, misses the begins in flight.  The count row's lock,
	 * skipped when held, lets one count run at a time; only the owner
	 * may take it.  A table that has more than doubled since the server
	 * last measured it is measured again here: a flood grows it faster
	 * than autovacuum looks (a minute), and plans made on the near-empty
	 * table's statistics walk a whole index for each of a begin's counts.
	 * The settings it measures with are the function's, not the caller's;
	 * a measure that cannot have its lock at once is left to the next.
	 *
	 * Both functions that run as the owner name every function they call
	 * in pg_catalog, with typed arguments, and look names up in the
	 * tables' schema, then pg_temp, last (set below): a caller's object of
	 * the same name, temporary or in a schema where anyone may create
	 * (PostgreSQL 14's public), must never match better.  And the admit
	 * trigger only tries the user's lock: anyone may take an advisory
	 * lock, and a host that held alice's (or sat in a transaction that
	 * inserted one of her ceremonies) made each begin of hers, fleet-wide,
	 * wait out the lock timeout and fail.  Without it, two begins of one
	 * user at the same moment may both take a per-user limit's last place.
	 */
	"CREATE FUNCTION pk_pending_recount() RETURNS boolean LANGUAGE plpgsql"
	"  SECURITY DEFINER SET default_statistics_target FROM CURRENT"
	"  SET vacuum_cost_delay = 0 SET lock_timeout = 100 AS $f$\n"
	"DECLARE now_s bigint := pg_catalog.floor(extract(epoch FROM"
	"  pg_catalog.clock_timestamp())); numbered bigint;"
	"  total bigint; last_at bigint;\n"
	"BEGIN\n"
	"  SELECT at INTO last_at FROM pk_pending_total FOR UPDATE SKIP LOCKED;\n"
	"  IF NOT FOUND OR last_at BETWEEN now_s - 1 AND now_s THEN RETURN false; END IF;\n"
	"  SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO numbered FROM pk_admitted;\n"
	"  DELETE FROM pk_pending_hosts;\n"
	"  INSERT INTO pk_pending_hosts (host_role, n) SELECT host_role, count(*)"
	"    FROM ceremonies WHERE state = 'pending' AND expires > now_s GROUP BY host_role;\n"
	"  UPDATE pk_pending_total SET n = (SELECT coalesce(sum(n), 0) FROM pk_pending_hosts),"
	"    upto = numbered, at = now_s RETURNING n INTO total;\n"
	"  IF total > 2 * (SELECT greatest(reltuples, 0)::bigint FROM pg_catalog.pg_class"
	"      WHERE oid = 'ceremonies'::pg_catalog.regclass) + 1000 THEN\n"
	"    BEGIN\n"
	"      ANALYZE (SKIP_LOCKED) ceremonies;\n"
	"    EXCEPTION WHEN OTHERS THEN\n"
	"      NULL;\n"	/* its lock was not had at once: the counts stand, the next tries */
	"    END;\n"
	"  END IF;\n"
	"  RETURN true;\n"
	"END $f$;"
	"REVOKE ALL ON FUNCTION pk_pending_recount() FROM PUBLIC;"
	/*
	 * And a row remembers which instance made it (`waiter`, the session's
	 * pk.instance, store_set_instance): a row that the same instance then
	 * decides is not announced.  That instance knows already, and every
	 * listener of the role (two instances sharing one, say) would wake
	 * for nothing: the benchmark's two instances spent a fifth more of
	 * the machine per login on it.  A row made without one is announced
	 * as before.
	 */
	"ALTER TABLE ceremonies ADD COLUMN waiter text NOT NULL DEFAULT ''"
	"  CHECK (length(waiter) <= 32);"
	"CREATE OR REPLACE FUNCTION pk_ceremony_announce() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
	"BEGIN\n"
	"  IF NEW.waiter = '' OR NEW.waiter IS DISTINCT FROM current_setting('pk.instance', true)"
	"  THEN\n"
	"    PERFORM pg_notify('pk:' || NEW.host_role, encode(NEW.token_hash, 'hex'));\n"
	"  END IF;\n"
	"  RETURN NULL;\n"
	"END $f$;"
	"CREATE OR REPLACE FUNCTION pk_ceremony_admit() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER SET search_path FROM CURRENT AS $f$\n"
	"DECLARE lim pk_limits; n bigint;"
	"  now_s bigint := pg_catalog.floor(extract(epoch FROM pg_catalog.now()));"
	"  host text; counted pk_pending_total;\n"
	"BEGIN\n"
	"  IF pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL THEN\n"
	"    RAISE EXCEPTION 'limit_host' USING ERRCODE = 'PK001',"
	"      DETAIL = 'one ceremony per transaction, and before any other write';\n"
	"  END IF;\n"
	"  SELECT * INTO lim FROM pk_limits;\n"
	"  NEW.host_role := session_user;\n"
	"  NEW.state := 'pending'; NEW.reason := NULL; NEW.finished := NULL;\n"
	"  NEW.admitted := pg_catalog.nextval('pk_admitted'::regclass);\n"
	"  NEW.waiter := pg_catalog.left(coalesce(pg_catalog.current_setting('pk.instance',"
	" true), ''), 32);\n"
	"  SELECT hostname INTO host FROM pk_hosts WHERE role = session_user;\n"
	"  IF host IS NOT NULL THEN\n"
	"    NEW.hostname := host;\n"
	"    NEW.created := now_s;\n"
	"    NEW.consumes_enrollment := NEW.consumes_enrollment AND NEW.kind = 'register';\n"
	"    IF NEW.expires > now_s + lim.host_lifetime THEN\n"
	"      NEW.expires := now_s + lim.host_lifetime;\n"
	"    END IF;\n"
	"  END IF;\n"
	"  PERFORM pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended("
	"    pg_catalog.concat('pk:u:', NEW.user_name), 0::bigint));\n"
	"  SELECT * INTO counted FROM pk_pending_total"
	"    WHERE at BETWEEN now_s - " PK_COUNTS_FRESH " AND now_s + 1;\n"
	"  IF FOUND THEN\n"
	"    SELECT count(*) + counted.n INTO n FROM ceremonies WHERE state = 'pending'"
	"      AND admitted > counted.upto;\n"
	"  ELSE\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s;\n"
	"  END IF;\n"
	"  IF n >= lim.total THEN RAISE EXCEPTION 'limit_total' USING ERRCODE = 'PK001'; END IF;\n"
	"  IF counted.at IS NOT NULL THEN\n"
	"    SELECT count(*) + coalesce((SELECT h.n FROM pk_pending_hosts h"
	"      WHERE h.host_role = session_user), 0) INTO n FROM ceremonies"
	"      WHERE state = 'pending' AND host_role = session_user AND admitted > counted.upto;\n"
	"  ELSE\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"      AND host_role = session_user;\n"
	"  END IF;\n"
	"  IF n >= lim.per_host THEN RAISE EXCEPTION 'limit_host' USING ERRCODE = 'PK001'; END IF;\n"
	"  IF NEW.addr_key <> '' THEN\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"      AND user_name = NEW.user_name AND addr_key = NEW.addr_key;\n"
	"    IF n >= lim.per_user_address THEN\n"
	"      RAISE EXCEPTION 'limit_user_address' USING ERRCODE = 'PK001';\n"
	"    END IF;\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"      AND addr_key = NEW.addr_key;\n"
	"    IF n >= lim.per_address THEN\n"
	"      RAISE EXCEPTION 'limit_address' USING ERRCODE = 'PK001';\n"
	"    END IF;\n"
	"  END IF;\n"
	"  SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"    AND user_name = NEW.user_name;\n"
	"  IF n >= lim.per_user THEN RAISE EXCEPTION 'limit_user' USING ERRCODE = 'PK001'; END IF;\n"
	"  RETURN NEW;\n"
	"END $f$;"
	/*
	 * The functions that run as the owner look names up in the schema
	 * of the tables alone, then pg_temp, last.  FROM CURRENT kept the
	 * owner's path: "$user", public, with pg_temp, where any caller may
	 * make objects, searched first.  A host's temporary view called
	 * ceremonies or pk_limits stood in for the table (limits undone) and
	 * ran its functions as the owner (a red-team review of this
	 * migration found it; it was so since migration 2).
	 */
	/*
	 * A host ends windows (passkeyctl sessions revoke on a host) through
	 * this function, not the table's DELETE: DELETE on a table lets its
	 * holder LOCK it in ACCESS EXCLUSIVE mode, and a host that held
	 * windows so stalled every window lookup and every approval that opens
	 * one (found by the second review; since migration 3).
	 */
	"CREATE FUNCTION pk_windows_end(p_id text, p_user text) RETURNS bigint"
	"  LANGUAGE plpgsql SECURITY DEFINER AS $f$\n"
	"DECLARE n bigint;\n"
	"BEGIN\n"
	"  IF p_id IS NOT NULL THEN\n"
	"    DELETE FROM windows WHERE id = p_id AND (p_user IS NULL OR user_name = p_user);\n"
	"  ELSIF p_user IS NOT NULL THEN\n"
	"    DELETE FROM windows WHERE user_name = p_user;\n"
	"  ELSE\n"
	"    DELETE FROM windows;\n"
	"  END IF;\n"
	"  GET DIAGNOSTICS n = ROW_COUNT;\n"
	"  RETURN n;\n"
	"END $f$;"
	"REVOKE ALL ON FUNCTION pk_windows_end(text, text) FROM PUBLIC;"
	"DO $d$ BEGIN\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_windows_end(text, text)"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_ceremony_admit()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_pending_recount()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"END $d$;",

	/*
	 * 7: a window's uses in rows of their own, one per role, and a
	 * window's end a tombstone, so that no use ever waits on a lock a host
	 * can hold.  A host could UPDATE a window's uses, and so hold every
	 * window row locked in a transaction it kept open: each login that
	 * found such a window waited out the lock timeout on its use and was
	 * refused store_busy (a red-team review found it; since migration 3).
	 *   - pk_window_use(), run as the owner, takes the window's row FOR
	 *     KEY SHARE, which no other use waits on, and counts the use in
	 *     the caller's own row: a host that holds its calls open holds its
	 *     own logins only.
	 *   - pk_windows_end() no longer DELETEs (a FOR UPDATE lock, which a
	 *     KEY SHARE waits on, and a host may hold its call open): it makes
	 *     the row expired (opened 0, expires 1), a FOR NO KEY UPDATE lock,
	 *     which no use waits on.  The purge of expired rows removes it
	 *     later, and the uses rows with it (the foreign key's cascade).
	 * A host that holds an end open still holds off other ends of the
	 * same windows (store_busy), never a login.
	 */
	"CREATE TABLE window_uses ("
	"  window_id text NOT NULL REFERENCES windows (id) ON DELETE CASCADE,"
	"  host_role name NOT NULL,"
	"  uses bigint NOT NULL,"
	"  last_used bigint NOT NULL,"
	"  PRIMARY KEY (window_id, host_role));"
	"CREATE FUNCTION pk_window_use(p_id text, p_now bigint) RETURNS integer"
	"  LANGUAGE plpgsql SECURITY DEFINER AS $f$\n"
	"BEGIN\n"
	"  PERFORM 1 FROM windows WHERE id = p_id AND expires > p_now FOR KEY SHARE;\n"
	"  IF NOT FOUND THEN RETURN 0; END IF;\n"
	"  INSERT INTO window_uses AS u (window_id, host_role, uses, last_used)\n"
	"    VALUES (p_id, session_user, 1, p_now)\n"
	"    ON CONFLICT (window_id, host_role) DO UPDATE\n"
	"    SET uses = u.uses + 1, last_used = GREATEST(u.last_used, excluded.last_used);\n"
	"  RETURN 1;\n"
	"END $f$;"
	"REVOKE ALL ON FUNCTION pk_window_use(text, bigint) FROM PUBLIC;"
	"CREATE OR REPLACE FUNCTION pk_windows_end(p_id text, p_user text) RETURNS bigint"
	"  LANGUAGE plpgsql SECURITY DEFINER AS $f$\n"
	"DECLARE n bigint;\n"
	"BEGIN\n"
	"  UPDATE windows SET opened = 0, expires = 1 WHERE expires > 1 AND\n"
	"    (id = p_id OR p_id IS NULL) AND (user_name = p_user OR p_user IS NULL);\n"
	"  GET DIAGNOSTICS n = ROW_COUNT;\n"
	"  RETURN n;\n"
	"END $f$;"
	"DO $d$ BEGIN\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_window_use(text, bigint)"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_windows_end(text, text)"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"END $d$;",

	/*
	 * 8: the name of the watchdog that ends a host's sessions held open
	 * too long, so that every instance can prepare its call.  Its body
	 * comes with the roles' SQL (store_fleet.c watchdog), which knows the
	 * hosts' group and is made again at each apply; until then it ends
	 * nothing, and nobody but the owner may call it.
	 */
	"CREATE FUNCTION pk_end_held(p_seconds integer) RETURNS integer"
	"  LANGUAGE sql AS 'SELECT 0';"
	"REVOKE ALL ON FUNCTION pk_end_held(integer) FROM PUBLIC;",

	/*
	 * 9: no commit that decides a ceremony notifies any more.  A commit
	 * that notifies takes the server's one notify lock (every database's)
	 * and holds it while its notices are queued: a host that committed
	 * 400 MB of its own notices held it for a second each time, and each
	 * verdict's commit, which notified through this trigger, waited out
	 * its lock timeout (200 ms on passkeyd's loop) and failed, fleet-wide;
	 * a full queue failed them outright, and so did a host role whose
	 * name made a channel too long.  The instance that decides now sends
	 * the notice after its commit, from its listening connection, where a
	 * wait or a failure costs only the notice (store_pg_announce.c).
	 */
	("DROP TRIGGER IF EXISTS ceremonies_announce ON ceremonies;"
	"  DROP FUNCTION IF EXISTS pk_ceremony_announce();"),

	/*
	 * 10: what a host's row may make a web instance do and hold (a
	 * red-team review found both; since migration 2).
	 *   - A registration begun by a role that may not add passkeys itself
	 *     (a host) adds a user's first passkey only: `first_passkey`, set
	 *     at its INSERT, and its approval refused while the user has one
	 *     (23505: credential_exists).  Before, a compromised host inserted
	 *     a register row for alice, who had a passkey, finished it at a
	 *     web instance with a key of its own, and logged in as alice on
	 *     every host.  A host begins a registration only for a user with
	 *     none (passkeyd's login_kind); an enrollment link made at a web
	 *     instance, which may add passkeys anyway, adds one to anyone.
	 *   - The text a host writes is as long as passkeyd's own requests
	 *     allow.  A row of 100 MB names (lz4-compressed to 400 kB) took a
	 *     web instance 4 s and 200 MB of memory per page, for as long as
	 *     the ceremony was kept.  NOT VALID: a row written before stays
	 *     until it is forgotten, rather than failing the migration.
	 * Both functions run as the owner, so that the names they look up (a
	 * host's temporary table called credentials would be its own) are the
	 * tables' schema's.
	 */
	"ALTER TABLE ceremonies ADD COLUMN first_passkey boolean NOT NULL DEFAULT false;"
	"ALTER TABLE ceremonies ADD CONSTRAINT ceremonies_sizes CHECK ("
	"  octet_length(user_name) <= 64 AND octet_length(rhost) <= 255 AND"
	"  octet_length(service) <= 64 AND octet_length(addr_key) <= 255 AND"
	"  octet_length(code) <= 32 AND octet_length(client_key) <= 64 AND"
	"  (reason IS NULL OR octet_length(reason) <= 64)) NOT VALID;"
	"CREATE FUNCTION pk_ceremony_first() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER AS $f$\n"
	"BEGIN\n"
	"  NEW.first_passkey := NOT pg_catalog.has_table_privilege(session_user,"
	"    'credentials'::regclass, 'INSERT');\n"
	"  RETURN NEW;\n"
	"END $f$;"
	"CREATE TRIGGER ceremonies_first BEFORE INSERT ON ceremonies"
	"  FOR EACH ROW WHEN (NEW.kind = 'register') EXECUTE FUNCTION pk_ceremony_first();"
	"CREATE FUNCTION pk_ceremony_first_only() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER AS $f$\n"
	"BEGIN\n"
	"  IF EXISTS (SELECT 1 FROM credentials WHERE user_name = OLD.user_name) THEN\n"
	"    RAISE EXCEPTION 'credential_exists' USING ERRCODE = '23505',"
	"      DETAIL = 'a host may begin the registration of a first passkey only';\n"
	"  END IF;\n"
	"  RETURN NEW;\n"
	"END $f$;"
	"CREATE TRIGGER ceremonies_first_only BEFORE UPDATE OF state ON ceremonies"
	"  FOR EACH ROW WHEN (OLD.first_passkey AND OLD.state = 'pending'"
	"  AND NEW.state = 'approved') EXECUTE FUNCTION pk_ceremony_first_only();"
	"REVOKE ALL ON FUNCTION pk_ceremony_first(), pk_ceremony_first_only() FROM PUBLIC;"
	"DO $d$ BEGIN\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_ceremony_first()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_ceremony_first_only()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"END $d$;",

	/*
	 * 11: no one host fills a user's or an address's places fleet-wide
	 * (a red-team review; since migration 2).  A host's 32 pending rows
	 * for alice, spread over addresses, refused every other host's begin
	 * for her (limit_user) for the 15 minutes of a host's lifetime, and
	 * again after; 64 for one address refused that address everywhere.
	 * A per-user, per-address or per user-address count is now the rows
	 * of the host that begins, in full (its own limit, as one passkeyd's),
	 * plus each other host's up to half the limit: one host, however it
	 * floods, leaves a user and an address the other half; it takes two
	 * to lock them out, as it takes as many addresses as the limit allows
	 * each.  Those shares are counted only when all the rows reach the
	 * limit (they can only be fewer): a begin under the limits costs what
	 * it did.  The body is migration 6's otherwise; SECURITY DEFINER is
	 * stated again (CREATE OR REPLACE resets what it does not state), and
	 * the search path set again after it.
	 */
	"CREATE OR REPLACE FUNCTION pk_ceremony_admit() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER AS $f$\n"
	"DECLARE lim pk_limits; n bigint; own bigint; others bigint;"
	"  now_s bigint := pg_catalog.floor(extract(epoch FROM pg_catalog.now()));"
	"  host text; counted pk_pending_total;\n"
	"BEGIN\n"
	"  IF pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL THEN\n"
	"    RAISE EXCEPTION 'limit_host' USING ERRCODE = 'PK001',"
	"      DETAIL = 'one ceremony per transaction, and before any other write';\n"
	"  END IF;\n"
	"  SELECT * INTO lim FROM pk_limits;\n"
	"  NEW.host_role := session_user;\n"
	"  NEW.state := 'pending'; NEW.reason := NULL; NEW.finished := NULL;\n"
	"  NEW.admitted := pg_catalog.nextval('pk_admitted'::regclass);\n"
	"  NEW.waiter := pg_catalog.left(coalesce(pg_catalog.current_setting('pk.instance',"
	" true), ''), 32);\n"
	"  SELECT hostname INTO host FROM pk_hosts WHERE role = session_user;\n"
	"  IF host IS NOT NULL THEN\n"
	"    NEW.hostname := host;\n"
	"    NEW.created := now_s;\n"
	"    NEW.consumes_enrollment := NEW.consumes_enrollment AND NEW.kind = 'register';\n"
	"    IF NEW.expires > now_s + lim.host_lifetime THEN\n"
	"      NEW.expires := now_s + lim.host_lifetime;\n"
	"    END IF;\n"
	"  END IF;\n"
	"  PERFORM pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended("
	"    pg_catalog.concat('pk:u:', NEW.user_name), 0::bigint));\n"
	"  SELECT * INTO counted FROM pk_pending_total"
	"    WHERE at BETWEEN now_s - " PK_COUNTS_FRESH " AND now_s + 1;\n"
	"  IF FOUND THEN\n"
	"    SELECT count(*) + counted.n INTO n FROM ceremonies WHERE state = 'pending'"
	"      AND admitted > counted.upto;\n"
	"  ELSE\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s;\n"
	"  END IF;\n"
	"  IF n >= lim.total THEN RAISE EXCEPTION 'limit_total' USING ERRCODE = 'PK001'; END IF;\n"
	"  IF counted.at IS NOT NULL THEN\n"
	"    SELECT count(*) + coalesce((SELECT h.n FROM pk_pending_hosts h"
	"      WHERE h.host_role = session_user), 0) INTO n FROM ceremonies"
	"      WHERE state = 'pending' AND host_role = session_user AND admitted > counted.upto;\n"
	"  ELSE\n"
	"    SELECT count(*) INTO n FROM ceremonies WHERE state = 'pending' AND expires > now_s"
	"      AND host_role = session_user;\n"
	"  END IF;\n"
	"  IF n >= lim.per_host THEN RAISE EXCEPTION 'limit_host' USING ERRCODE = 'PK001'; END IF;\n"
	"  IF NEW.addr_key <> '' THEN\n"
	"    SELECT pg_catalog.count(*) INTO n FROM ceremonies WHERE state = 'pending'"
	"      AND expires > now_s AND user_name = NEW.user_name AND addr_key = NEW.addr_key;\n"
	"    IF n >= lim.per_user_address THEN\n"
	"      SELECT coalesce(pg_catalog.max(c) FILTER (WHERE host_role = session_user), 0),"
	"        coalesce(pg_catalog.sum(least(c, lim.per_user_address / 2))"
	"          FILTER (WHERE host_role <> session_user), 0) INTO own, others"
	"        FROM (SELECT host_role, pg_catalog.count(*) AS c FROM ceremonies"
	"          WHERE state = 'pending' AND expires > now_s AND user_name = NEW.user_name"
	"          AND addr_key = NEW.addr_key"
	"          GROUP BY host_role) AS g;\n"
	"      IF own >= lim.per_user_address OR"
	"          least(own, lim.per_user_address / 2) + others >= lim.per_user_address THEN\n"
	"        RAISE EXCEPTION 'limit_user_address' USING ERRCODE = 'PK001';\n"
	"      END IF;\n"
	"    END IF;\n"
	"    SELECT pg_catalog.count(*) INTO n FROM ceremonies WHERE state = 'pending'"
	"      AND expires > now_s AND addr_key = NEW.addr_key;\n"
	"    IF n >= lim.per_address THEN\n"
	"      SELECT coalesce(pg_catalog.max(c) FILTER (WHERE host_role = session_user), 0),"
	"        coalesce(pg_catalog.sum(least(c, lim.per_address / 2))"
	"          FILTER (WHERE host_role <> session_user), 0) INTO own, others"
	"        FROM (SELECT host_role, pg_catalog.count(*) AS c FROM ceremonies"
	"          WHERE state = 'pending' AND expires > now_s AND addr_key = NEW.addr_key"
	"          GROUP BY host_role) AS g;\n"
	"      IF own >= lim.per_address OR"
	"          least(own, lim.per_address / 2) + others >= lim.per_address THEN\n"
	"        RAISE EXCEPTION 'limit_address' USING ERRCODE = 'PK001';\n"
	"      END IF;\n"
	"    END IF;\n"
	"  END IF;\n"
	"  SELECT pg_catalog.count(*) INTO n FROM ceremonies WHERE state = 'pending'"
	"    AND expires > now_s AND user_name = NEW.user_name;\n"
	"  IF n >= lim.per_user THEN\n"
	"    SELECT coalesce(pg_catalog.max(c) FILTER (WHERE host_role = session_user), 0),"
	"      coalesce(pg_catalog.sum(least(c, lim.per_user / 2))"
	"        FILTER (WHERE host_role <> session_user), 0) INTO own, others"
	"      FROM (SELECT host_role, pg_catalog.count(*) AS c FROM ceremonies"
	"        WHERE state = 'pending' AND expires > now_s AND user_name = NEW.user_name"
	"        GROUP BY host_role) AS g;\n"
	"    IF own >= lim.per_user OR least(own, lim.per_user / 2) + others >= lim.per_user THEN\n"
	"      RAISE EXCEPTION 'limit_user' USING ERRCODE = 'PK001';\n"
	"    END IF;\n"
	"  END IF;\n"
	"  RETURN NEW;\n"
	"END $f$;"
	"DO $d$ BEGIN\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_ceremony_admit()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"END $d$;",

	/*
	 * 12: a role's notices go on a channel only it and the web instances
	 * know (a red-team review; since migration 2).  PostgreSQL checks no
	 * privilege on LISTEN, and the channel was "pk:" and the role's name:
	 * any host could listen on another's and learn when each of its
	 * ceremonies ended, and its token's hash.  Now a channel is "pk:" and
	 * 32 random hex digits (gen_random_uuid's 122 random bits), drawn for
	 * a role by pk_channel() the first time it asks and kept; the policies
	 * (store_fleet_sql) let a host read its own row only, the web
	 * instances, which send the notices, every row.  A host that knows no
	 * other host's token hash cannot take over one the web instances have
	 * forgotten either: the hashes are SHA-256 of 32 random bytes.  A
	 * channel is the role's as it is now (its OID): one dropped and made
	 * again under the same name draws a new one, so that whoever held the
	 * old role does not hear the new one's (a red-team review); an admin
	 * who deletes a role's row makes it draw a new one at its next start.
	 * Only a missing or stale row is written: a start writes nothing.
	 */
	"CREATE TABLE pk_channels ("
	"  role name PRIMARY KEY,"
	"  role_oid oid NOT NULL,"
	"  channel text UNIQUE NOT NULL CHECK (channel ~ '^pk:[0-9a-f]{32}$'));"
	"ALTER TABLE pk_channels ENABLE ROW LEVEL SECURITY;"
	"CREATE FUNCTION pk_channel() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $f$\n"
	"DECLARE ch text; me oid;\n"
	"BEGIN\n"
	"  SELECT oid INTO me FROM pg_catalog.pg_roles WHERE rolname = session_user;\n"
	"  SELECT channel INTO ch FROM pk_channels WHERE role = session_user AND role_oid = me;\n"
	"  IF ch IS NULL THEN\n"
	"    INSERT INTO pk_channels AS c (role, role_oid, channel) VALUES (session_user, me,"
	"      'pk:' || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''))"
	"      ON CONFLICT (role) DO UPDATE SET role_oid = excluded.role_oid,"
	"      channel = excluded.channel WHERE c.role_oid <> excluded.role_oid;\n"
	"    SELECT channel INTO ch FROM pk_channels WHERE role = session_user;\n"
	"  END IF;\n"
	"  RETURN ch;\n"
	"END $f$;"
	"REVOKE ALL ON FUNCTION pk_channel() FROM PUBLIC;"
	"REVOKE ALL ON pk_channels FROM PUBLIC;"
	"DO $d$ BEGIN\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_channel()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"END $d$;",

	/*
	 * 13: a host's registration needs an enrollment, unless the fleet
	 * trusts its hosts with that (since migration 2).  A host writes
	 * whether its row consumes one, and said no under enroll=after-auth:
	 * a compromised host registered a key of its own for any user who had
	 * no passkey, and so opened every other host to that user.  Now the
	 * registration row of a role that may not insert passkeys (a host:
	 * first_passkey) consumes an enrollment, one only an admin or a web
	 * instance makes, whatever the host wrote, unless the fleet's
	 * hosts_self_enroll is set (passkeyctl fleet --host-enrollment
	 * trusted).  Its approval is refused without one (PK002:
	 * no_enrollment), in the web's transaction, before the web instance's
	 * own check; the enrollment's row is locked there, as that check
	 * does, so that two approvals cannot both find one enrollment.  A row
	 * that consumes none (made before this migration, or while the fleet
	 * was trusted) is refused as well unless the fleet trusts its hosts
	 * at its approval (a red-team review: a host could keep such rows
	 * pending across an upgrade, or a change back to enrolled).
	 */
	"ALTER TABLE pk_limits ADD COLUMN hosts_self_enroll boolean NOT NULL DEFAULT false;"
	"CREATE OR REPLACE FUNCTION pk_ceremony_first() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER AS $f$\n"
	"BEGIN\n"
	"  NEW.first_passkey := NOT pg_catalog.has_table_privilege(session_user,"
	"    'credentials'::regclass, 'INSERT');\n"
	"  IF NEW.first_passkey AND NOT coalesce((SELECT hosts_self_enroll FROM pk_limits),"
	"      false) THEN\n"
	"    NEW.consumes_enrollment := true;\n"
	"  END IF;\n"
	"  RETURN NEW;\n"
	"END $f$;"
	"CREATE OR REPLACE FUNCTION pk_ceremony_first_only() RETURNS trigger LANGUAGE plpgsql"
	"  SECURITY DEFINER AS $f$\n"
	"BEGIN\n"
	"  IF EXISTS (SELECT 1 FROM credentials WHERE user_name = OLD.user_name) THEN\n"
	"    RAISE EXCEPTION 'credential_exists' USING ERRCODE = '23505',"
	"      DETAIL = 'a host may begin the registration of a first passkey only';\n"
	"  END IF;\n"
	"  IF OLD.consumes_enrollment THEN\n"
	"    PERFORM 1 FROM enrollments WHERE user_name = OLD.user_name"
	"      AND expires > pg_catalog.floor(extract(epoch FROM pg_catalog.now())) FOR UPDATE;\n"
	"    IF NOT FOUND THEN\n"
	"      RAISE EXCEPTION 'no_enrollment' USING ERRCODE = 'PK002',"
	"        DETAIL = 'a host''s registration needs an enrollment made at a web instance';\n"
	"    END IF;\n"
	"  ELSIF NOT coalesce((SELECT hosts_self_enroll FROM pk_limits), false) THEN\n"
	"    RAISE EXCEPTION 'no_enrollment' USING ERRCODE = 'PK002',"
	"      DETAIL = 'made while the fleet trusted its hosts with first passkeys';\n"
	"  END IF;\n"
	"  RETURN NEW;\n"
	"END $f$;"
	"DO $d$ BEGIN\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_ceremony_first()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"  EXECUTE pg_catalog.format('ALTER FUNCTION pk_ceremony_first_only()"
	" SET search_path = %I, pg_temp', pg_catalog.current_schema());\n"
	"END $d$;",

	/*
	 * 14: who asked, for a request made on a host itself (su, login,
	 * sudo: no rhost), as the page shows it: "UID TTY NAME" from the
	 * module (passkeyd/ceremony.h).  The host writes it as it writes
	 * rhost; the page shows it as text.  '' for a row that says none
	 * (ssh, passkeyctl, an older host).
	 */
	"ALTER TABLE ceremonies ADD COLUMN requester text NOT NULL DEFAULT ''"
	"  CONSTRAINT ceremonies_requester_size CHECK (octet_length(requester) <= 128);",

	/*
	 * 15: the request comes from the host itself (its loopback, its name
	 * or one of its interfaces' addresses), as that host decided at the
	 * begin: only it knows its own addresses, and a web instance shows
	 * the page.  false for an older host's row, which the page then
	 * tells by loopback and name alone.
	 */
	"ALTER TABLE ceremonies ADD COLUMN local boolean NOT NULL DEFAULT false;",
};

#define PG_VERSION	((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))

/* ---- opening and the schema ---------------------------------------------- */

/*
 * The schema's version: 0 for an empty database; -1 (why set) for tables
 * that are not a passkey store's.
 */
static store_err_t
pg_read_version(struct store_pg *pg, int *version, char *why, size_t whylen)
{
	PGresult *res;
	store_err_t err;
	int ours, foreign;

	*version = 0;
	if ((err = pg_query(pg, "SELECT to_regclass('pk_meta') IS NOT NULL,"
	    " to_regclass('credentials') IS NOT NULL OR to_regclass('events') IS NOT NULL",
	    &res)) != STORE_OK)
		return err;
	ours = PQgetvalue(res, 0, 0)[0] == 't';
	foreign = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (!ours && foreign) {
		snprintf(why, whylen, "the database holds tables that are not a passkey store's");
		return STORE_ERR_SCHEMA;
	}
	if (!ours)
		return STORE_OK;
	if ((err = pg_query(pg, "SELECT version FROM pk_meta", &res)) != STORE_OK)
		return err;
	if (PQntuples(res) != 1)
		err = STORE_ERR_SCHEMA;
	else
		*version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (err == STORE_OK && (*version > PG_VERSION || *version < 0)) {
		snprintf(why, whylen, "schema version %d is newer than this program's (%d)",
		    *version, PG_VERSION);
		err = STORE_ERR_SCHEMA;
	}
	return err;
}

/*
 * A current schema is read without a lock.  Else, under an advisory lock
 * (waited for no longer than the lock timeout), instances starting
 * together migrate one after the other, and the later ones find the work
 * done.  The lock is the session's, taken before the transaction: a
 * transaction begun before another instance's migration committed could
 * still see the catalog as it was.  A newer schema, or tables that are not
 * ours, are left untouched.
 */
static store_err_t
pg_migrate(struct store_pg *pg, char *why, size_t whylen)
{
	store_err_t err;
	int version;
	char sql[96];

	if ((err = pg_read_version(pg, &version, why, whylen)) != STORE_OK)
		return err;
	if (version == PG_VERSION) {
		pg->version = version;
		return STORE_OK;
	}
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", (long long)PG_ADVISORY_KEY);
	if ((err = pg_simple(pg, sql)) != STORE_OK)
		return err;
	if ((err = pg_simple(pg, "BEGIN")) != STORE_OK ||
	    (err = pg_read_version(pg, &version, why, whylen)) != STORE_OK)
		goto fail;
	for (int i = version; i < PG_VERSION; i++) {
		snprintf(sql, sizeof(sql), "UPDATE pk_meta SET version = %d", i + 1);
		if ((err = pg_simple(pg, pg_migrations[i])) != STORE_OK ||
		    (err = pg_simple(pg, sql)) != STORE_OK)
			goto fail;
	}
	if ((err = pg_simple(pg, "COMMIT")) == STORE_OK)
		pg->version = PG_VERSION;
	goto unlock;
fail:
	(void)pg_simple(pg, "ROLLBACK");
unlock:
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", (long long)PG_ADVISORY_KEY);
	(void)pg_simple(pg, sql);
	return err;
}

/*
 * libpq parses the URI (PQconninfoParse), so what is shown is what it
 * would use; anything it cannot parse is shown as a placeholder only.
 */
int
store_pg_display(const char *uri, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(uri, NULL);
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
	int has_password = 0;

	snprintf(out, outlen, "postgresql://(unparsable URI)");
	if (opts == NULL)
		return 1;	/* it may hold a password: say so, and show none of it */
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0)
			has_password = 1;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0 || (host == NULL &&
		    strcmp(o->keyword, "hostaddr") == 0))
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	snprintf(out, outlen, "postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
	    host && host[0] != '/' ? host : "", port ? ":" : "", port ? port : "", db ? db : "");
	if (host != NULL && host[0] == '/')	/* a socket folder */
		snprintf(out + strlen(out), outlen - strlen(out), "?host=%s", host);
	PQconninfoFree(opts);
	return has_password;
}

static void
pg_free(struct store_pg *pg)
{
	pg_disconnect(pg);
	if (pg->conninfo != NULL)
		explicit_bzero(pg->conninfo, strlen(pg->conninfo));	/* may hold a password */
	free(pg->conninfo);
	pg_announce_free(pg);
	free(pg);
}

store_err_t
store_pg_open(const char *uri, store_t **out, char *why, size_t whylen)
{
	PQconninfoOption *opts;
	struct pg_settings set;
	struct store_pg *pg;
	store_err_t err;

	*out = NULL;
	/* libpq's own reason would quote the URI, password and all */
	if ((opts = PQconninfoParse(uri, NULL)) == NULL) {
		snprintf(why, whylen, "the store URI cannot be parsed (libpq's URI syntax;"
		    " a '%%' in a password is written %%25)");
		return STORE_ERR_INVALID;
	}
	PQconninfoFree(opts);
	if ((pg = calloc(1, sizeof(*pg))) == NULL || (pg->conninfo = strdup(uri)) == NULL) {
		free(pg);
		return STORE_ERR_NOMEM;
	}
	pg->base.ops = &pg_ops;
	pg_announce_init(pg);
	pg->lock_timeout_ms = 5000;
	pg->statement_timeout_ms = PG_STATEMENT_TIMEOUT_MS;
	pg->may_forget = 1;
	/* the statements only once the tables they name exist */
	set = pg_settings_of(pg);
	err = pg_connect(uri, &set, 0, NULL,
	    &pg->conn, pg->msg, sizeof(pg->msg));
	if (err == STORE_OK && (err = pg_migrate(pg, why, whylen)) == STORE_OK)
		err = pg_prepare_all(pg);
	if (err != STORE_OK) {
		if (why[0] == '\0')
			snprintf(why, whylen, "%s", pg->msg);
		pg_free(pg);
		return err;
	}
	*out = &pg->base;
	return STORE_OK;
}

static void
pg_close(store_t *st)
{
	pg_free(pg_of(st));
}

static int
pg_schema_version(const store_t *st)
{
	return ((const struct store_pg *)st)->version;
}

static const char *
pg_errmsg(store_t *st)
{
	struct store_pg *pg = pg_of(st);

	return pg->msg[0] ? pg->msg : "postgresql: no error";
}

static void
pg_errmsg_clear(store_t *st)
{
	pg_of(st)->msg[0] = '\0';
}

static const char *
pg_errmsg_new(store_t *st)
{
	struct store_pg *pg = pg_of(st);

	return pg->msg[0] ? pg->msg : NULL;
}

/*
 * The "busy timeout": how long a statement waits for a row lock.  A
 * caller that waits little on locks (the daemon's loop) also wants its
 * statements short: they may run at most five times that, and at least 1 s.
 */
static store_err_t
pg_set_busy_timeout(store_t *st, int ms)
{
	struct store_pg *pg = pg_of(st);
	int64_t stmt = (int64_t)ms * 5;

	pg->lock_timeout_ms = ms;
	pg->statement_timeout_ms = stmt < 1000 ? 1000 :
	    stmt > PG_STATEMENT_TIMEOUT_MS ? PG_STATEMENT_TIMEOUT_MS : (int)stmt;
	pg->settings_stale = 1;	/* set before the next statement outside a transaction */
	return pg->in_txn ? STORE_OK : pg_ready(pg);
}

/*
 * Commits on this connection return before the server has flushed them
 * (synchronous_commit = off): the write is done and seen by everyone at
 * once, and only a crash of the server within a fraction of a second
 * can undo it.  The next synchronous commit on any connection flushes it
 * first (the WAL is one sequence).  store.h says who may use it.
 */
static store_err_t
pg_set_lazy_commit(store_t *st, int on)
{
	struct store_pg *pg = pg_of(st);

	pg->lazy_commit = on != 0;
	pg->settings_stale = 1;
	return pg->in_txn ? STORE_OK : pg_ready(pg);
}

static store_err_t
pg_set_instance(store_t *st, const char *id)
{
	struct store_pg *pg = pg_of(st);

	snprintf(pg->instance, sizeof(pg->instance), "%s", id);
	pg->settings_stale = 1;
	return pg->in_txn ? STORE_OK : pg_ready(pg);
}

/* ---- transactions ---------------------------------------------------------- */

static store_err_t
pg_txn_begin(store_t *st)
{
	struct store_pg *pg = pg_of(st);

	if (pg->in_txn)
		return STORE_ERR_INVALID;	/* one at a time */
	return pg_begin(pg);
}

static store_err_t
pg_txn_commit(store_t *st)
{
	return pg_commit(pg_of(st));
}

static void
pg_txn_rollback(store_t *st)
{
	pg_rollback(pg_of(st));
}

static store_err_t
pg_txn_mark(store_t *st)
{
	pg_announce_mark(pg_of(st));
	return pg_later(pg_of(st), "SAVEPOINT pk_mark");
}

/* After a failed statement the part can only be undone, whatever keep says. */
static void
pg_txn_mark_end(store_t *st, int keep)
{
	struct store_pg *pg = pg_of(st);

	if (pg->conn == NULL)
		return;
	if (!keep || PQtransactionStatus(pg->conn) == PQTRANS_INERROR) {
		pg_announce_mark_undone(pg);
		(void)pg_simple(pg, "ROLLBACK TO SAVEPOINT pk_mark; RELEASE SAVEPOINT pk_mark");
	} else {
		(void)pg_later(pg, PG_RELEASE_MARK);	/* an error is the next statement's */
	}
}

/* One operation's changes, all or nothing (as the SQLite backend's). */
static store_err_t
pg_atomic_begin(struct store_pg *pg, int *outer)
{
	*outer = !pg->in_txn;
	return *outer ? pg_begin(pg) : pg_simple(pg, "SAVEPOINT pk_atomic");
}

static store_err_t
pg_atomic_end(struct store_pg *pg, int outer, store_err_t err)
{
	if (err == STORE_OK)
		return outer ? pg_commit(pg) : pg_simple(pg, "RELEASE SAVEPOINT pk_atomic");
	if (outer) {
		pg_rollback(pg);
	} else {
		(void)pg_simple(pg, "ROLLBACK TO SAVEPOINT pk_atomic");
		(void)pg_simple(pg, "RELEASE SAVEPOINT pk_atomic");
	}
	return err;
}

/* ---- users ------------------------------------------------------------------ */

static store_err_t
pg_handle_get(struct store_pg *pg, const char *user, unsigned char out[STORE_USER_HANDLE_LEN])
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_text(&a, user);
	if ((err = pg_run(pg, PG_HANDLE_GET, &a, &res)) != STORE_OK)
		return err;
	err = col_fixed(res, out, STORE_USER_HANDLE_LEN);
	PQclear(res);
	return err;
}

static store_err_t
pg_handle_make(struct store_pg *pg, const char *user, const unsigned char handle[STORE_USER_HANDLE_LEN])
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	arg_bytes(&a, handle, STORE_USER_HANDLE_LEN);
	arg_int(&a, (int64_t)time(NULL));
	return pg_run(pg, PG_HANDLE_MAKE, &a, NULL);
}

static store_err_t
pg_user_handle(store_t *st, const char *user, int create, unsigned char out[STORE_USER_HANDLE_LEN])
{
	struct store_pg *pg = pg_of(st);
	unsigned char fresh[STORE_USER_HANDLE_LEN];
	store_err_t err = pg_handle_get(pg, user, out);

	if (err != STORE_ERR_NOT_FOUND || !create)
		return err;
	if ((err = store_random_handle(fresh)) != STORE_OK ||
	    (err = pg_handle_make(pg, user, fresh)) != STORE_OK)
		return err;
	return pg_handle_get(pg, user, out);
}

/* Takes the user's row lock for the rest of the transaction (0 rows: fine). */
static store_err_t
pg_user_lock(struct store_pg *pg, const char *user)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	return pg_run(pg, PG_USER_LOCK, &a, NULL);
}

/* ---- credentials ------------------------------------------------------------- */

static store_err_t
pg_cred_insert(struct store_pg *pg, const struct store_credential *c)
{
	char hash[STORE_ID_HASH_LEN + 1];
	struct pg_args a = { .n = 0 };

	store_id_hash(c->id, c->id_len, hash);
	arg_text(&a, c->user);
	arg_bytes(&a, c->id, c->id_len);
	arg_int(&a, c->alg);
	arg_bytes(&a, c->pubkey_cose, c->pubkey_len);
	arg_int(&a, c->sign_count);
	arg_text(&a, c->fmt);
	arg_bytes(&a, c->aaguid, sizeof(c->aaguid));
	arg_bool(&a, c->uv);
	arg_bool(&a, c->be);
	arg_bool(&a, c->bs);
	arg_text(&a, c->attestation);
	arg_text(&a, c->nickname);
	arg_int(&a, c->created != 0 ? c->created : (int64_t)time(NULL));
	arg_int(&a, c->last_used);
	arg_text(&a, c->last_addr);
	arg_text(&a, hash);
	return pg_run(pg, PG_CRED_INSERT, &a, NULL);
}

static store_err_t
pg_cred_add(store_t *st, const struct store_credential *cred)
{
	struct store_pg *pg = pg_of(st);
	unsigned char handle[STORE_USER_HANDLE_LEN];
	store_err_t err;
	int outer;

	if ((err = store_random_handle(handle)) != STORE_OK)
		return err;
	if ((err = pg_atomic_begin(pg, &outer)) != STORE_OK)
		return err;
	if ((err = pg_handle_make(pg, cred->user, handle)) == STORE_OK)
		err = pg_cred_insert(pg, cred);
	return pg_atomic_end(pg, outer, err);
}

static store_err_t
pg_enroll_check(struct store_pg *pg, const char *user, int64_t now, int lock, int *pending)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	*pending = 0;
	arg_text(&a, user);
	if ((err = pg_run(pg, lock ? PG_ENROLL_GET_LOCK : PG_ENROLL_GET, &a, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 1)
		*pending = col_int(res, 0, 0) > now;
	PQclear(res);
	return STORE_OK;
}

static store_err_t pg_enroll_remove(store_t *st, const char *user);

/*
 * store_cred_below_bound under the user's row lock (the row exists: the
 * registration made it).  Under READ COMMITTED two registrations of one
 * user on two instances would otherwise each count before the other's
 * insert, and both take the last place; the second now waits, then counts
 * the first's passkey.
 */
static store_err_t
pg_below_bound(store_t *st, const char *user, unsigned max)
{
	store_err_t err;

	if (max > 0 && (err = pg_user_lock(pg_of(st), user)) != STORE_OK)
		return err;
	return store_cred_below_bound(st, user, max);
}

static store_err_t
pg_cred_register(store_t *st, const struct store_credential *cred,
    const unsigned char handle[STORE_USER_HANDLE_LEN], int consume_enrollment,
    unsigned max_per_user, int64_t now)
{
	struct store_pg *pg = pg_of(st);
	unsigned char stored[STORE_USER_HANDLE_LEN];
	store_err_t err;
	int outer, pending = 0;

	if ((err = pg_atomic_begin(pg, &outer)) != STORE_OK)
		return err;
	/* the enrollment row's lock: two registrations cannot both consume it */
	if (consume_enrollment &&
	    (err = pg_enroll_check(pg, cred->user, now, 1, &pending)) == STORE_OK && !pending)
		err = STORE_ERR_NO_ENROLLMENT;
	if (err == STORE_OK)
		err = pg_handle_make(pg, cred->user, handle);
	if (err == STORE_OK)
		err = pg_handle_get(pg, cred->user, stored);
	/* the authenticator keeps the handle it was given as user.id */
	if (err == STORE_OK && memcmp(stored, handle, sizeof(stored)) != 0)
		err = STORE_ERR_CONFLICT;
	if (err == STORE_OK)
		err = pg_below_bound(st, cred->user, max_per_user);
	if (err == STORE_OK)
		err = pg_cred_insert(pg, cred);
	if (err == STORE_OK && consume_enrollment)
		err = pg_enroll_remove(st, cred->user);
	return pg_atomic_end(pg, outer, err);
}

static store_err_t
pg_cred_read(PGresult *r, int row, struct store_credential *c)
{
	unsigned char *aaguid;
	size_t aaguid_len;
	store_err_t err;

	if ((err = col_text(r, row, 0, &c->user)) != STORE_OK ||
	    (err = col_blob(r, row, 1, &c->id, &c->id_len)) != STORE_OK ||
	    (err = col_blob(r, row, 3, &c->pubkey_cose, &c->pubkey_len)) != STORE_OK ||
	    (err = col_text(r, row, 5, &c->fmt)) != STORE_OK ||
	    (err = col_text(r, row, 10, &c->attestation)) != STORE_OK ||
	    (err = col_text(r, row, 11, &c->nickname)) != STORE_OK ||
	    (err = col_text(r, row, 14, &c->last_addr)) != STORE_OK ||
	    (err = col_blob(r, row, 6, &aaguid, &aaguid_len)) != STORE_OK)
		return err;
	if (aaguid_len == sizeof(c->aaguid))
		memcpy(c->aaguid, aaguid, sizeof(c->aaguid));
	free(aaguid);
	if (aaguid_len != sizeof(c->aaguid) || c->user == NULL || c->fmt == NULL ||
	    c->attestation == NULL)
		return STORE_ERR_IO;
	c->alg = (int)col_int(r, row, 2);
	c->sign_count = (uint32_t)col_int(r, row, 4);
	c->uv = col_bool(r, row, 7);
	c->be = col_bool(r, row, 8);
	c->bs = col_bool(r, row, 9);
	c->created = col_int(r, row, 12);
	c->last_used = col_int(r, row, 13);
	c->seq = col_int(r, row, 15);
	return STORE_OK;
}

/*
 * Runs a statement and reads its rows into a new array of `size`-byte
 * items (*items, *count) with read() per row; the caller frees the list
 * on an error (a half-read item is counted too).
 */
static store_err_t
pg_rows(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a, void **items,
    size_t *count, size_t size, store_err_t (*read)(PGresult *, int, void *))
{
	PGresult *res;
	store_err_t err;
	int n;

	if ((err = pg_run(pg, id, a, &res)) != STORE_OK)
		return err;
	n = PQntuples(res);
	if (n > 0 && (*items = calloc((size_t)n, size)) == NULL)
		err = STORE_ERR_NOMEM;
	for (int i = 0; err == STORE_OK && i < n; i++) {
		(*count)++;
		err = read(res, i, (char *)*items + size * (size_t)i);
	}
	PQclear(res);
	return err;
}

static store_err_t
pg_cred_read_any(PGresult *r, int row, void *item)
{
	return pg_cred_read(r, row, item);
}

static store_err_t
pg_cred_rows(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a,
    struct store_credential_list *out)
{
	store_err_t err = pg_rows(pg, id, a, (void **)&out->items, &out->count,
	    sizeof(*out->items), pg_cred_read_any);

	if (err != STORE_OK)
		store_credential_list_free(out);
	return err;
}

static store_err_t
pg_cred_get(store_t *st, const unsigned char *id, size_t id_len, struct store_credential *out)
{
	struct store_credential_list l = { 0 };
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_bytes(&a, id, id_len);
	if ((err = pg_cred_rows(pg_of(st), PG_CRED_GET, &a, &l)) != STORE_OK)
		return err;
	if (l.count == 0)
		err = STORE_ERR_NOT_FOUND;
	else {
		*out = l.items[0];
		memset(&l.items[0], 0, sizeof(l.items[0]));
	}
	store_credential_list_free(&l);
	return err;
}

/* The handle is the column after the credential's (PG_CRED_GET_LOGIN). */
static store_err_t
pg_cred_get_for_login(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out, unsigned char handle[STORE_USER_HANDLE_LEN])
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;
	int col;

	arg_bytes(&a, id, id_len);
	if ((err = pg_run(pg_of(st), PG_CRED_GET_LOGIN, &a, &res)) != STORE_OK)
		return err;
	col = PQnfields(res) - 1;
	if (PQntuples(res) != 1)
		err = STORE_ERR_NOT_FOUND;
	else if (PQgetisnull(res, 0, col))
		err = STORE_ERR_NOT_FOUND;	/* no user row: as store_user_handle says */
	else if (PQgetlength(res, 0, col) != STORE_USER_HANDLE_LEN)
		err = STORE_ERR_IO;
	else if ((err = pg_cred_read(res, 0, out)) == STORE_OK)
		memcpy(handle, PQgetvalue(res, 0, col), STORE_USER_HANDLE_LEN);
	PQclear(res);
	if (err != STORE_OK)
		store_credential_free(out);
	return err;
}

static store_err_t
pg_cred_list_user(store_t *st, const char *user, struct store_credential_list *out)
{
	struct pg_args a = { .n = 0 };

	if (user == NULL)
		return pg_cred_rows(pg_of(st), PG_CRED_LIST_ALL, NULL, out);
	arg_text(&a, user);
	return pg_cred_rows(pg_of(st), PG_CRED_LIST_USER, &a, out);
}

static store_err_t
pg_cred_page(store_t *st, const char *user, int64_t after, size_t limit,
    struct store_credential_list *out)
{
	struct pg_args a = { .n = 0 };

	if (user == NULL) {
		arg_int(&a, after);
		arg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
		return pg_cred_rows(pg_of(st), PG_CRED_PAGE_ALL, &a, out);
	}
	arg_text(&a, user);
	arg_int(&a, after);
	arg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return pg_cred_rows(pg_of(st), PG_CRED_PAGE_USER, &a, out);
}

static store_err_t
pg_cred_find(store_t *st, const char *user, const char *prefix,
    struct store_credential *out, size_t *matches)
{
	struct store_credential_list l = { 0 };
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_text(&a, prefix);	/* lower-case hex only (store.c): no LIKE wildcard in it */
	if (user != NULL)
		arg_text(&a, user);
	if ((err = pg_cred_rows(pg_of(st), user != NULL ? PG_CRED_FIND_USER : PG_CRED_FIND_ALL,
	    &a, &l)) != STORE_OK)
		return err;
	*matches = l.count;
	if (l.count == 1) {
		*out = l.items[0];
		memset(&l.items[0], 0, sizeof(l.items[0]));
	}
	store_credential_list_free(&l);
	return STORE_OK;
}

/* Runs a statement whose one answer is a count (of rows, of windows ended). */
static store_err_t
pg_run_count(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a, size_t *n)
{
	PGresult *res;
	store_err_t err;

	if ((err = pg_run(pg, id, a, &res)) != STORE_OK)
		return err;
	*n = (size_t)col_int(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

static store_err_t
pg_cred_count_user(store_t *st, const char *user, size_t *count)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	return pg_run_count(pg_of(st), PG_CRED_COUNT_USER, &a, count);
}

static store_err_t
pg_cred_exists(struct store_pg *pg, const unsigned char *id, size_t id_len, char **owner)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	if (owner != NULL)
		*owner = NULL;
	arg_bytes(&a, id, id_len);
	if ((err = pg_run(pg, PG_CRED_OWNER, &a, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 0)
		err = STORE_ERR_NOT_FOUND;
	else if (owner != NULL)
		err = col_text(res, 0, 0, owner);
	PQclear(res);
	return err;
}

static store_err_t
pg_cred_record_use(store_t *st, const unsigned char *id, size_t id_len,
    uint32_t sign_count, int must_grow, int bs, int64_t when, const char *addr)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_int(&a, sign_count);
	arg_bool(&a, bs);
	arg_int(&a, when != 0 ? when : (int64_t)time(NULL));
	arg_text(&a, addr);
	arg_bytes(&a, id, id_len);
	err = pg_change(pg, must_grow ? PG_CRED_USE_GROW : PG_CRED_USE_MAX, &a);
	/* no row changed: gone, or another use stored this count or a higher one */
	if (err == STORE_ERR_NOT_FOUND && must_grow &&
	    (err = pg_cred_exists(pg, id, id_len, NULL)) == STORE_OK)
		err = STORE_ERR_CONFLICT;
	return err;
}

/* An audit row's seven columns, in PG_EVENT_ADD's order. */
static void
event_args(struct pg_args *a, const struct store_event *ev)
{
	arg_int(a, ev->time != 0 ? ev->time : (int64_t)time(NULL));
	arg_text(a, ev->event);
	arg_text(a, ev->user);
	arg_text(a, ev->addr);
	arg_text(a, ev->verdict);
	arg_text(a, ev->reason);
	arg_text(a, ev->detail);
}

/*
 * One statement where the journal sent three (the row, the use, the
 * audit row), each waiting for its answer: two round trips fewer per
 * approval.  A part that did not hold is told apart as its own call
 * would have: a row read, a passkey looked up (rare paths only).
 */
static store_err_t
pg_login_approve(store_t *st, const unsigned char *row_hash, int64_t now,
    const struct store_cred_use *use, const struct store_event *ev, int *failed)
{
	struct store_pg *pg = pg_of(st);
	struct store_ceremony row;
	struct pg_args a = { .n = 0 };
	int64_t moved, used, logged;
	PGresult *res;
	store_err_t err;

	arg_bytes(&a, row_hash, row_hash != NULL ? STORE_TOKEN_HASH_LEN : 0);
	arg_int(&a, now);
	arg_int(&a, use->sign_count);
	arg_bool(&a, use->bs);
	arg_int(&a, use->when != 0 ? use->when : (int64_t)time(NULL));
	arg_text(&a, use->addr);
	arg_bytes(&a, use->id, use->id_len);
	arg_bool(&a, use->must_grow);
	event_args(&a, ev);
	if ((err = pg_run(pg, PG_LOGIN_APPROVE, &a, &res)) != STORE_OK)
		return err;
	moved = col_int(res, 0, 0);
	used = col_int(res, 0, 1);
	logged = col_int(res, 0, 2);
	/* a part that failed is undone by the caller's mark, and its notice with it */
	if (row_hash != NULL && moved == 1)
		pg_announce_row(pg, res, 0, 3, row_hash);
	PQclear(res);
	if (row_hash != NULL && moved != 1) {
		*failed = 0;	/* as pg_ceremony_move: gone, or no longer pending */
		if ((err = pg_ceremony_get(st, row_hash, &row)) != STORE_OK)
			return err;
		store_ceremony_free(&row);
		return STORE_ERR_CONFLICT;
	}
	if (used != 1) {
		*failed = 1;	/* as pg_cred_record_use */
		if (use->must_grow &&
		    (err = pg_cred_exists(pg, use->id, use->id_len, NULL)) == STORE_OK)
			return STORE_ERR_CONFLICT;
		return use->must_grow ? err : STORE_ERR_NOT_FOUND;
	}
	*failed = 2;
	if (logged != 1)
		return STORE_ERR_IO;	/* an INSERT of one row that made none */
	*failed = 0;
	return STORE_OK;
}

static store_err_t
pg_cred_rename(store_t *st, const unsigned char *id, size_t id_len, const char *nickname)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, nickname);
	arg_bytes(&a, id, id_len);
	return pg_change(pg_of(st), PG_CRED_RENAME, &a);
}

/*
 * The user's row lock first: two removers of a user's last two passkeys
 * would otherwise each count two under READ COMMITTED and both delete.
 */
static store_err_t
pg_cred_remove(store_t *st, const unsigned char *id, size_t id_len, int keep_last)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	char *owner = NULL;
	store_err_t err;
	int outer;

	if ((err = pg_atomic_begin(pg, &outer)) != STORE_OK)
		return err;
	if (keep_last && (err = pg_cred_exists(pg, id, id_len, &owner)) == STORE_OK)
		err = pg_user_lock(pg, owner);
	if (err == STORE_OK) {
		arg_bytes(&a, id, id_len);
		arg_bool(&a, keep_last);
		err = pg_change(pg, PG_CRED_REMOVE, &a);
		/* nothing deleted though it exists: the last one */
		if (err == STORE_ERR_NOT_FOUND && keep_last &&
		    (err = pg_cred_exists(pg, id, id_len, NULL)) == STORE_OK)
			err = STORE_ERR_LAST;
	}
	/* the windows it approved end with it */
	if (err == STORE_OK) {
		a.n = 0;
		arg_bytes(&a, id, id_len);
		err = pg_run(pg, PG_WINDOW_END_CRED, &a, NULL);
	}
	free(owner);
	/* the refusal is an answer, not a failure of the transaction */
	if (err == STORE_ERR_LAST)
		return pg_atomic_end(pg, outer, STORE_OK) == STORE_OK ? STORE_ERR_LAST :
		    STORE_ERR_IO;
	return pg_atomic_end(pg, outer, err);
}

/* ---- enrollments ----------------------------------------------------------- */

static store_err_t
pg_enroll_add(store_t *st, const char *user, int64_t expires, const char *by)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	arg_int(&a, (int64_t)time(NULL));
	arg_int(&a, expires);
	arg_text(&a, by);
	return pg_run(pg_of(st), PG_ENROLL_ADD, &a, NULL);
}

static store_err_t
pg_enroll_pending(store_t *st, const char *user, int64_t now, int *pending)
{
	return pg_enroll_check(pg_of(st), user, now, 0, pending);
}

static store_err_t
pg_enroll_remove(store_t *st, const char *user)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	return pg_change(pg_of(st), PG_ENROLL_REMOVE, &a);
}

/* ---- events ------------------------------------------------------------------ */

static store_err_t
pg_event_add(store_t *st, const struct store_event *ev)
{
	struct pg_args a = { .n = 0 };

	event_args(&a, ev);
	return pg_run(pg_of(st), PG_EVENT_ADD, &a, NULL);
}

static store_err_t
pg_event_list(store_t *st, const char *user, size_t limit, int64_t before_id,
    struct store_event_list *out)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err = STORE_OK;
	int n;

	/* the user comes last: the all-users statement has no such parameter */
	arg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	arg_int(&a, before_id > 0 ? before_id : INT64_MAX);
	if (user != NULL)
		arg_text(&a, user);
	if ((err = pg_run(pg_of(st), user != NULL ? PG_EVENT_LIST_USER : PG_EVENT_LIST_ALL,
	    &a, &res)) != STORE_OK)
		return err;
	n = PQntuples(res);
	if (n > 0 && (out->items = calloc((size_t)n, sizeof(*out->items))) == NULL)
		err = STORE_ERR_NOMEM;
	for (int i = 0; err == STORE_OK && i < n; i++) {
		struct store_event *ev = &out->items[out->count++];
		char *s[6] = { NULL };

		for (int k = 0; k < 6 && err == STORE_OK; k++)
			err = col_text(res, i, k + 2, &s[k]);
		ev->id = col_int(res, i, 0);
		ev->time = col_int(res, i, 1);
		ev->event = s[0];
		ev->user = s[1];
		ev->addr = s[2];
		ev->verdict = s[3];
		ev->reason = s[4];
		ev->detail = s[5];
	}
	PQclear(res);
	if (err != STORE_OK)
		store_event_list_free(out);
	return err;
}

static store_err_t
pg_event_bounds(struct store_pg *pg, int64_t *lo, int64_t *hi)
{
	PGresult *res;
	store_err_t err;

	*lo = *hi = 0;
	if ((err = pg_run(pg, PG_EVENT_BOUNDS, NULL, &res)) != STORE_OK)
		return err;
	*lo = col_int(res, 0, 0);
	*hi = col_int(res, 0, 1);
	PQclear(res);
	return STORE_OK;
}

static store_err_t
pg_event_count(store_t *st, uint64_t *count)
{
	int64_t lo, hi;
	store_err_t err;

	if ((err = pg_event_bounds(pg_of(st), &lo, &hi)) == STORE_OK)
		*count = hi > 0 ? (uint64_t)(hi - lo + 1) : 0;
	return err;
}

/*
 * The row bound.  Ids have gaps (a rolled-back insert never gives its id
 * back), so the id range only says when rows *might* exceed the bound;
 * the cutoff itself is exact: the id of the max_rows-th newest row, found
 * by an index scan of max_rows entries.  That scan is paid at most every
 * PG_ROWS_BOUND_EVERY_MS (unless the last pass left more to remove), so
 * the log may run past its bound for that long, never below it.  Several
 * instances pruning at once each find a cutoff as true as their snapshot.
 */
#define PG_ROWS_BOUND_EVERY_MS	10000

static store_err_t
pg_prune_rows(struct store_pg *pg, uint64_t max_rows, size_t batch, size_t *removed)
{
	struct pg_args a = { .n = 0 };
	int64_t lo, hi, now = clock_monotonic_ms(), keep_from;
	PGresult *res;
	store_err_t err;

	if ((err = pg_event_bounds(pg, &lo, &hi)) != STORE_OK)
		return err;
	if (hi <= 0 || (uint64_t)(hi - lo + 1) <= max_rows)
		return STORE_OK;
	if (!pg->rows_bound_more && now - pg->rows_bound_at < PG_ROWS_BOUND_EVERY_MS)
		return STORE_OK;
	pg->rows_bound_at = now;
	pg->rows_bound_more = 0;
	arg_int(&a, (int64_t)(max_rows - 1));
	if ((err = pg_run(pg, PG_EVENT_NTH_NEWEST, &a, &res)) != STORE_OK)
		return err;
	keep_from = PQntuples(res) == 1 ? col_int(res, 0, 0) : 0;
	PQclear(res);
	if (keep_from <= 0)
		return STORE_OK;	/* fewer rows than the bound: the gaps fooled the range */
	a.n = 0;
	arg_int(&a, keep_from);
	arg_int(&a, (int64_t)batch);
	if ((err = pg_run(pg, PG_EVENT_PRUNE_BELOW, &a, &res)) != STORE_OK)
		return err;
	*removed += (size_t)pg_changed(res);
	pg->rows_bound_more = *removed >= batch;
	PQclear(res);
	return STORE_OK;
}

static store_err_t
pg_event_prune(store_t *st, int64_t before_time, uint64_t max_rows, size_t batch, size_t *removed)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	if (max_rows > 0 && (err = pg_prune_rows(pg, max_rows, batch, removed)) != STORE_OK)
		return err;
	if (*removed >= batch || before_time <= 0)
		return STORE_OK;
	if ((err = pg_run(pg, PG_EVENT_OLDEST_TIME, NULL, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 0 || col_int(res, 0, 0) >= before_time) {
		PQclear(res);
		return STORE_OK;
	}
	PQclear(res);
	a.n = 0;
	arg_int(&a, before_time);
	arg_int(&a, (int64_t)(batch - *removed));
	if ((err = pg_run(pg, PG_EVENT_PRUNE_TIME, &a, &res)) != STORE_OK)
		return err;
	*removed += (size_t)pg_changed(res);
	PQclear(res);
	return STORE_OK;
}

/* ---- re-approval windows ----------------------------------------------------- */

/* The expired ones go in the same statement: the table holds open windows, about. */
static store_err_t
pg_window_open(store_t *st, const struct store_window *w)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, w->id);
	arg_text(&a, w->user);
	arg_text(&a, w->service);
	arg_text(&a, w->rhost);
	arg_text(&a, w->client_key);
	arg_text(&a, w->hostname);
	arg_text(&a, w->source);
	arg_bytes(&a, w->cred_id, w->cred_id_len);
	arg_int(&a, w->opened);
	arg_int(&a, w->expires);
	return pg_run(pg_of(st), PG_WINDOW_OPEN, &a, NULL);
}

static store_err_t
pg_window_read(PGresult *r, int row, struct store_window *w)
{
	store_err_t err;

	if (PQgetisnull(r, row, 0) || PQgetlength(r, row, 0) != STORE_WINDOW_ID_LEN)
		return STORE_ERR_IO;
	memcpy(w->id, PQgetvalue(r, row, 0), STORE_WINDOW_ID_LEN);
	w->id[STORE_WINDOW_ID_LEN] = '\0';
	if ((err = col_text(r, row, 1, &w->user)) != STORE_OK ||
	    (err = col_text(r, row, 2, &w->service)) != STORE_OK ||
	    (err = col_text(r, row, 3, &w->rhost)) != STORE_OK ||
	    (err = col_text(r, row, 4, &w->client_key)) != STORE_OK ||
	    (err = col_text(r, row, 5, &w->hostname)) != STORE_OK ||
	    (err = col_text(r, row, 6, &w->source)) != STORE_OK ||
	    (err = col_blob(r, row, 7, &w->cred_id, &w->cred_id_len)) != STORE_OK)
		return err;
	if (w->user == NULL || w->service == NULL || w->rhost == NULL ||
	    w->client_key == NULL || w->hostname == NULL || w->source == NULL)
		return STORE_ERR_IO;
	w->opened = col_int(r, row, 8);
	w->expires = col_int(r, row, 9);
	w->last_used = col_int(r, row, 10);
	w->uses = (uint64_t)col_int(r, row, 11);
	return STORE_OK;
}

static store_err_t
pg_window_read_any(PGresult *r, int row, void *item)
{
	return pg_window_read(r, row, item);
}

static store_err_t
pg_window_rows(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a,
    struct store_window_list *out)
{
	store_err_t err = pg_rows(pg, id, a, (void **)&out->items, &out->count,
	    sizeof(*out->items), pg_window_read_any);

	if (err != STORE_OK)
		store_window_list_free(out);
	return err;
}

static store_err_t
pg_window_find(store_t *st, const char *user, const char *service, const char *rhost,
    const char *client_key, const char *hostname, int any_host, int64_t now,
    int64_t opened_after, struct store_window *out)
{
	struct store_window_list l = { 0 };
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_text(&a, user);
	arg_text(&a, service);
	arg_text(&a, rhost);
	arg_text(&a, client_key);
	arg_text(&a, hostname);
	arg_int(&a, now);
	arg_int(&a, opened_after);
	arg_text(&a, any_host ? "true" : "false");
	arg_int(&a, now + STORE_WINDOW_SKEW);
	if ((err = pg_window_rows(pg_of(st), PG_WINDOW_FIND, &a, &l)) != STORE_OK)
		return err;
	if (l.count == 0)
		err = STORE_ERR_NOT_FOUND;
	else {
		*out = l.items[0];
		memset(&l.items[0], 0, sizeof(l.items[0]));
	}
	store_window_list_free(&l);
	return err;
}

static store_err_t
pg_window_use(store_t *st, const char *id, int64_t now)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_text(&a, id);
	arg_int(&a, now);
	if ((err = pg_run(pg_of(st), PG_WINDOW_USE, &a, &res)) != STORE_OK)
		return err;
	/* 1: counted; 0: no such window open (migration 7) */
	if (PQntuples(res) != 1 || col_int(res, 0, 0) != 1)
		err = PQntuples(res) == 1 ? STORE_ERR_NOT_FOUND : STORE_ERR_IO;
	PQclear(res);
	return err;
}

static store_err_t
pg_window_page(store_t *st, const char *user, int64_t now, const struct store_window_key *after,
    int64_t limit, struct store_window_list *out)
{
	struct pg_args a = { .n = 0 };

	/* the user comes last: the all-users statement has no such parameter */
	arg_int(&a, now);
	arg_int(&a, after->opened);
	arg_text(&a, after->id);
	arg_int(&a, limit);
	if (user != NULL)
		arg_text(&a, user);
	return pg_window_rows(pg_of(st), user != NULL ? PG_WINDOW_PAGE_USER :
	    PG_WINDOW_PAGE_ALL, &a, out);
}

static store_err_t
pg_window_revoke(store_t *st, const char *id, const char *user, size_t *n)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, id);
	arg_text(&a, user);
	return pg_run_count(pg_of(st), PG_WINDOW_REVOKE, &a, n);
}

static store_err_t
pg_window_end_source(store_t *st, const char *user, const char *hostname, const char *source,
    size_t *n)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	arg_text(&a, hostname);
	arg_text(&a, source);
	return pg_run_count(pg_of(st), PG_WINDOW_END_SOURCE, &a, n);
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.schema_version = pg_schema_version,
	.set_busy_timeout = pg_set_busy_timeout,
	.set_lazy_commit = pg_set_lazy_commit,
	.set_instance = pg_set_instance,
	.errmsg = pg_errmsg,
	.errmsg_clear = pg_errmsg_clear,
	.errmsg_new = pg_errmsg_new,
	.txn_begin = pg_txn_begin,
	.txn_commit = pg_txn_commit,
	.txn_rollback = pg_txn_rollback,
	.txn_mark = pg_txn_mark,
	.txn_mark_end = pg_txn_mark_end,
	.cred_add = pg_cred_add,
	.cred_register = pg_cred_register,
	.cred_get = pg_cred_get,
	.cred_get_for_login = pg_cred_get_for_login,
	.cred_list_user = pg_cred_list_user,
	.cred_count_user = pg_cred_count_user,
	.cred_page = pg_cred_page,
	.cred_find = pg_cred_find,
	.cred_record_use = pg_cred_record_use,
	.login_approve = pg_login_approve,
	.cred_rename = pg_cred_rename,
	.cred_remove = pg_cred_remove,
	.user_handle = pg_user_handle,
	.enroll_add = pg_enroll_add,
	.enroll_pending = pg_enroll_pending,
	.enroll_remove = pg_enroll_remove,
	.event_add = pg_event_add,
	.event_list = pg_event_list,
	.event_prune = pg_event_prune,
	.event_count = pg_event_count,
	.window_open = pg_window_open,
	.window_find = pg_window_find,
	.window_use = pg_window_use,
	.window_page = pg_window_page,
	.window_revoke = pg_window_revoke,
	.window_end_source = pg_window_end_source,
	.ceremony_add = pg_ceremony_add,
	.ceremony_get = pg_ceremony_get,
	.ceremony_move = pg_ceremony_move,
	.ceremony_set_handle = pg_ceremony_set_handle,
	.ceremony_sweep = pg_ceremony_sweep,
	.ceremony_listen = pg_ceremony_listen,
	.notice_fd = pg_notice_fd,
	.notices = pg_notices,
	.set_announcer = pg_set_announcer,
	.announce = pg_announce,
	.announce_counts = pg_announce_counts,
	.exec_script = pg_exec_script,
};
