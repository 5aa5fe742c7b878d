/*
 * A fleet's roles, as SQL for PostgreSQL: least privilege per kind of
 * instance, so that a compromised SSH host cannot open other hosts.
 *
 *   prefix_hosts  an SSH host's local passkeyd: creates its own host's
 *                 ceremonies (the admit trigger stamps its role and its
 *                 registered host name) and reads them back; may end them
 *                 only as cancelled, expired or used; reads credentials,
 *                 users and enrollments; finds, counts the use of and
 *                 ends (pk_windows_end) re-approval windows; learns its
 *                 own notices' channel (pk_channel), no other's.  Nothing
 *                 else: no verdict, no other host's ceremony, no
 *                 credential written, no window opened or lengthened.
 *   prefix_web    the approval pages: read every ceremony and decide
 *                 pending ones; write credentials, users, enrollments,
 *                 re-approval windows and the audit log.
 * Each host's login role may hold so many connections (a compromised one
 * must not take every slot of the server's); the web roles' are not
 * limited.  The tables' owner (who ran the migrations) passes row-level
 * security as ever; the group roles get no login.  Names are checked
 * here so that they can go into SQL text as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "strbuf.h"
#include "text.h"

/* A role name we write unquoted: a lower-case letter, then [a-z0-9_], at most 48. */
static int
plain_role(const char *s, size_t n)
{
	return n >= 1 && n <= 48 && s[0] >= 'a' && s[0] <= 'z' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") >= n;
}

/* A host name as pages show it: letters, digits, '.', '-', at most 253. */
static int
plain_hostname(const char *s)
{
	return text_hostname_chars(s, 253);
}

static void
create_role(struct strbuf *b, const char *role, int login)
{
	strbuf_printf(b, "DO $r$ BEGIN\n"
	    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN\n"
	    "    CREATE ROLE %s %s;\n"
	    "  END IF;\n"
	    "END $r$;\n", role, role, login ? "LOGIN" : "NOLOGIN");
}

static void
grants(struct strbuf *b, const char *pre)
{
	strbuf_printf(b, "REVOKE ALL ON pk_meta, pk_hosts, pk_limits, users, credentials, enrollments,"
	    " events, ceremonies, windows, window_uses, pk_pending_total, pk_pending_hosts,"
	    " pk_channels FROM PUBLIC;\n"
	    "REVOKE ALL ON FUNCTION pk_ceremony_admit(), pk_pending_recount(),"
	    " pk_windows_end(text, text), pk_window_use(text, bigint), pk_ceremony_first(),"
	    " pk_ceremony_first_only(), pk_channel() FROM PUBLIC;\n"
	    "GRANT SELECT ON pk_meta TO %s_web, %s_hosts;\n", pre, pre);
	/*
	 * the web instances' sweeps count the fleet's pending ceremonies (at
	 * most once a second); not the hosts, which could hold the count's
	 * locks by holding the call's transaction open
	 */
	strbuf_printf(b, "GRANT EXECUTE ON FUNCTION pk_pending_recount() TO %s_web;\n", pre);
	/*
	 * every instance LISTENs on its role's channel; a host reads its own
	 * (policy pk_hosts_channel), the web instances, who send, every one
	 */
	strbuf_printf(b, "GRANT EXECUTE ON FUNCTION pk_channel() TO %s_web, %s_hosts;\n"
	    "GRANT SELECT ON pk_channels TO %s_web, %s_hosts;\n", pre, pre, pre, pre);
	/*
	 * names the owner's functions could meet in the schema are the owner's
	 * alone; the roles may reach the schema (only public's USAGE is
	 * everyone's by default: another schema would lock the fleet out),
	 * and nobody else may: any role that may connect could otherwise
	 * queue a lock on our tables ahead of every login (CREATE RULE asks
	 * for it before the privilege check, and the event trigger of
	 * no_ddl stops the fleet's roles only).  Without USAGE the name is
	 * refused before any lock.  Where the owner does not own the schema
	 * the REVOKEs only warn.
	 */
	strbuf_printf(b, "DO $s$ BEGIN\n"
	    "  EXECUTE format('REVOKE CREATE, USAGE ON SCHEMA %%I FROM PUBLIC',"
	    " current_schema());\n"
	    "  EXECUTE format('GRANT USAGE ON SCHEMA %%I TO %s_web, %s_hosts',"
	    " current_schema());\n"
	    "END $s$;\n", pre, pre);
	strbuf_printf(b, "-- an SSH host: reads passkeys, makes and reads back its own ceremonies\n"
	    "GRANT SELECT ON users, credentials, enrollments, pk_hosts TO %s_hosts;\n"
	    "GRANT SELECT, INSERT ON ceremonies TO %s_hosts;\n"
	    "GRANT UPDATE (state, reason, finished, challenge) ON ceremonies TO %s_hosts;\n",
	    pre, pre, pre);
	/* no INSERT: a host that could open windows could let itself in everywhere */
	/*
	 * and it ends them through pk_windows_end, not the table's DELETE,
	 * which would let it LOCK the table; and counts a use through
	 * pk_window_use, in a row of its own, not the window's UPDATE, which
	 * would let it hold the window's row (both revoked from roles made
	 * before)
	 */
	strbuf_printf(b, "-- and uses, counts and ends re-approval windows, but opens none\n"
	    "GRANT SELECT ON windows, window_uses TO %s_hosts;\n"
	    "REVOKE DELETE, UPDATE ON windows FROM %s_hosts;\n"
	    "GRANT EXECUTE ON FUNCTION pk_windows_end(text, text), pk_window_use(text, bigint)"
	    " TO %s_hosts, %s_web;\n",
	    pre, pre, pre, pre);
	strbuf_printf(b, "-- the approval pages: decide ceremonies, write passkeys and the audit log\n"
	    "GRANT SELECT ON pk_hosts, pk_limits TO %s_web;\n"
	    "GRANT SELECT, INSERT, UPDATE, DELETE ON users, credentials, enrollments TO %s_web;\n"
	    "GRANT SELECT, INSERT, DELETE ON events TO %s_web;\n"
	    "GRANT USAGE ON SEQUENCE credentials_seq_seq, events_id_seq TO %s_web;\n"
	    "GRANT SELECT, INSERT, DELETE ON ceremonies TO %s_web;\n"
	    "GRANT UPDATE (state, reason, finished, challenge, user_handle) ON ceremonies"
	    " TO %s_web;\n"
	    "GRANT SELECT, INSERT, UPDATE, DELETE ON windows TO %s_web;\n"
	    "GRANT SELECT ON window_uses TO %s_web;\n",
	    pre, pre, pre, pre, pre, pre, pre, pre);
}

static void
policies(struct strbuf *b, const char *pre)
{
	static const char *const names[][2] = {
		{ "pk_hosts_read", "ceremonies" }, { "pk_hosts_add", "ceremonies" },
		{ "pk_hosts_end", "ceremonies" }, { "pk_web_read", "ceremonies" },
		{ "pk_web_add", "ceremonies" }, { "pk_web_decide", "ceremonies" },
		{ "pk_web_forget", "ceremonies" }, { "pk_hosts_self", "pk_hosts" },
		{ "pk_web_hosts", "pk_hosts" }, { "pk_hosts_channel", "pk_channels" },
		{ "pk_web_channels", "pk_channels" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		strbuf_printf(b, "DROP POLICY IF EXISTS %s ON %s;\n", names[i][0], names[i][1]);
	strbuf_printf(b, "CREATE POLICY pk_hosts_read ON ceremonies FOR SELECT TO %s_hosts\n"
	    "  USING (host_role = session_user);\n"
	    "CREATE POLICY pk_hosts_add ON ceremonies FOR INSERT TO %s_hosts\n"
	    "  WITH CHECK (host_role = session_user AND state = 'pending');\n"
	    "CREATE POLICY pk_hosts_end ON ceremonies FOR UPDATE TO %s_hosts\n"
	    "  USING (host_role = session_user AND state IN ('pending', 'approved'))\n"
	    "  WITH CHECK (host_role = session_user AND state IN ('cancelled', 'expired', 'used'));\n",
	    pre, pre, pre);
	strbuf_printf(b, "CREATE POLICY pk_web_read ON ceremonies FOR SELECT TO %s_web USING (true);\n"
	    "CREATE POLICY pk_web_add ON ceremonies FOR INSERT TO %s_web\n"
	    "  WITH CHECK (host_role = session_user AND state = 'pending');\n"
	    "CREATE POLICY pk_web_decide ON ceremonies FOR UPDATE TO %s_web\n"
	    "  USING (state = 'pending' OR (state = 'approved' AND host_role = session_user))\n"
	    "  WITH CHECK (state <> 'used' OR host_role = session_user);\n"
	    "CREATE POLICY pk_web_forget ON ceremonies FOR DELETE TO %s_web\n"
	    "  USING (state <> 'pending');\n"
	    "CREATE POLICY pk_hosts_self ON pk_hosts FOR SELECT TO %s_hosts\n"
	    "  USING (role = session_user);\n"
	    "CREATE POLICY pk_web_hosts ON pk_hosts FOR SELECT TO %s_web USING (true);\n",
	    pre, pre, pre, pre, pre, pre);
	/* no host may know another's channel: it could LISTEN there (migration 12) */
	strbuf_printf(b, "CREATE POLICY pk_hosts_channel ON pk_channels FOR SELECT TO %s_hosts\n"
	    "  USING (role = session_user);\n"
	    "CREATE POLICY pk_web_channels ON pk_channels FOR SELECT TO %s_web USING (true);\n",
	    pre, pre);
}

/*
 * No DDL from the fleet's roles, refused before it runs: PostgreSQL takes
 * some commands' table lock before it checks the privilege (CREATE RULE
 * on ceremonies asks for ACCESS EXCLUSIVE, CREATE TRIGGER for SHARE ROW
 * EXCLUSIVE), so a host whose other session held any lock on the table
 * queued its request, and every login's statement behind it (a red-team
 * review, on a real server).  An event trigger at ddl_command_start runs
 * before any lock; only a superuser may make one, so an owner that is
 * none is warned, and keeps that limit (docs/DESIGN.md).  The owner is
 * no member, and superusers keep their DDL, members or not.
 */
static void
no_ddl(struct strbuf *b, const char *pre)
{
	/*
	 * members through other groups too (pg_has_role), superusers not; a
	 * role renamed or dropped (to_regrole NULL) refuses nobody, rather
	 * than fail everyone's DDL; made again, and enabled, at each apply
	 */
	strbuf_printf(b, "DO $e$ BEGIN\n"
	    "  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN\n"
	    "    CREATE OR REPLACE FUNCTION %s_no_ddl() RETURNS event_trigger LANGUAGE plpgsql\n"
	    "      SET search_path = pg_catalog AS $f$\n"
	    "    BEGIN\n"
	    "      IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user)\n"
	    "          AND EXISTS (SELECT 1 FROM pg_catalog.unnest(ARRAY['%s_hosts', '%s_web']) g\n"
	    "          WHERE pg_catalog.to_regrole(g) IS NOT NULL\n"
	    "          AND pg_catalog.pg_has_role(session_user, pg_catalog.to_regrole(g),"
	    " 'MEMBER')) THEN\n"
	    "        RAISE EXCEPTION 'the passkey fleet''s roles run no DDL (%%)', tg_tag\n"
	    "          USING ERRCODE = '42501';\n"
	    "      END IF;\n"
	    "    END $f$;\n"
	    "    DROP EVENT TRIGGER IF EXISTS %s_no_ddl;\n"
	    "    CREATE EVENT TRIGGER %s_no_ddl ON ddl_command_start"
	    " EXECUTE FUNCTION %s_no_ddl();\n"
	    "  ELSE\n"
	    "    RAISE WARNING 'not a superuser: no event trigger refuses the fleet''s roles DDL"
	    " (docs/DESIGN.md, known limits)';\n"
	    "  END IF;\n"
	    "END $e$;\n", pre, pre, pre, pre, pre, pre);
}

/*
 * What a host holds open, ended from outside.  Any role may SET its own
 * timeouts off, so a compromised host could keep a transaction open for
 * ever: its snapshot keeps the window uses it made from being vacuumed,
 * and an end it holds holds off other ends.  The web instances' sweeps
 * call this each second (store_pg_ceremony.c pg_end_held): it ends the
 * session of a host role (a member of the group, through any group; no
 * superuser), in any database,
 *   - in a transaction begun more than p_seconds (2 at least) ago; not
 *     an idle one by that rule: a session that reads the notification
 *     queue while idle does so in a transaction of the server's, and
 *     shows the start of its last statement, however long ago (a
 *     red-team review ended an honest LISTEN connection so);
 *   - or idle that long, with a snapshot, while the server waits to
 *     write to it: a listener that reads nothing, whose server process
 *     is stuck writing notices with the queue's snapshot held (a second
 *     review: it kept 3000 dead rows from being vacuumed, and holds the
 *     queue's tail).  A listener that reads is stuck for no time: its
 *     own notices are a few dozen bytes each.
 * No host's own work takes a second.  It must see other roles' sessions
 * and signal them: an owner that is a superuser, or has
 * pg_read_all_stats and pg_signal_backend; without, it sees none to end,
 * and ends none.  Names are looked up in pg_catalog, then pg_temp last:
 * a caller's temporary view of pg_roles' name must not stand in for it.
 */
static void
watchdog(struct strbuf *b, const char *pre)
{
	strbuf_printf(b, "CREATE OR REPLACE FUNCTION pk_end_held(p_seconds integer) RETURNS integer\n"
	    "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$\n"
	    "DECLARE s record; n integer := 0; hosts regrole := to_regrole('%s_hosts');\n"
	    "  held timestamptz := clock_timestamp()"
	    " - make_interval(secs => greatest(p_seconds, 2));\n"
	    "BEGIN\n"
	    "  IF hosts IS NULL THEN RETURN 0; END IF;\n"
	    "  FOR s IN SELECT a.pid, a.usename, a.state FROM pg_stat_activity a\n"
	    "      JOIN pg_roles r ON r.oid = a.usesysid\n"
	    "      WHERE NOT r.rolsuper AND pg_has_role(a.usesysid, hosts::oid, 'MEMBER')\n"
	    "      AND ((a.state <> 'idle' AND a.xact_start < held)\n"
	    "        OR (a.state = 'idle' AND a.wait_event = 'ClientWrite'\n"
	    "          AND a.backend_xmin IS NOT NULL AND a.state_change < held)) LOOP\n"
	    "    IF pg_terminate_backend(s.pid) THEN\n"
	    "      n := n + 1;\n"
	    "      RAISE LOG 'passkey fleet: ended the session %% of %% (%%): held open too long',"
	    " s.pid, s.usename, s.state;\n"
	    "    END IF;\n"
	    "  END LOOP;\n"
	    "  RETURN n;\n"
	    "EXCEPTION WHEN insufficient_privilege THEN\n"
	    "  RETURN n;\n"
	    "END $f$;\n"
	    "REVOKE ALL ON FUNCTION pk_end_held(integer) FROM PUBLIC;\n"
	    "GRANT EXECUTE ON FUNCTION pk_end_held(integer) TO %s_web;\n", pre, pre);
	strbuf_printf(b, "DO $w$ BEGIN\n"
	    "  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)\n"
	    "      AND NOT (pg_catalog.pg_has_role('pg_signal_backend', 'MEMBER')\n"
	    "      AND pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')) THEN\n"
	    "    RAISE WARNING 'not a superuser, nor a member of pg_signal_backend and"
	    " pg_read_all_stats: pk_end_held() ends no host''s session held open"
	    " (docs/DESIGN.md, known limits)';\n"
	    "  END IF;\n"
	    "END $w$;\n");
}

/*
 * Every login role of the hosts' group (those made before too) may hold
 * so many connections: a compromised host that opened all it could
 * would otherwise take every slot of max_connections, and no instance
 * that reconnects, anywhere in the fleet, would get one.  Superusers are
 * not limited by PostgreSQL, and are left alone.
 */
static void
host_connection_limit(struct strbuf *b, const char *pre, int conns)
{
	strbuf_printf(b, "DO $c$ DECLARE r name; BEGIN\n"
	    "  FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolcanlogin AND NOT rolsuper\n"
	    "      AND pg_catalog.pg_has_role(oid, '%s_hosts'::regrole, 'MEMBER') LOOP\n"
	    "    EXECUTE pg_catalog.format('ALTER ROLE %%I CONNECTION LIMIT %d', r);\n"
	    "  END LOOP;\n"
	    "END $c$;\n", pre, conns);
}

/*
 * Whether a host alone may begin the registration of a user's first
 * passkey (enroll=after-auth at a host), or needs the user's enrollment,
 * made by an admin at a web instance (migration 13).  Trusted, any
 * compromised host adds its own key for every user who has none, and so
 * opens every other host to them.  Unchanged unless asked.
 */
static void
host_enrollment(struct strbuf *b, enum store_fleet_enrollment e)
{
	int trusted = e == STORE_FLEET_ENROLL_TRUSTED;

	if (e == STORE_FLEET_ENROLL_UNCHANGED)
		return;
	strbuf_printf(b, "-- a host's registration %s\n"
	    "UPDATE pk_limits SET hosts_self_enroll = %s;\n",
	    trusted ? "needs no enrollment (trusted)" : "needs an enrollment",
	    trusted ? "true" : "false");
}

/*
 * A login role's name may be neither a group's of this fleet (a host
 * named P_web would put every web role in the hosts' group) nor one of
 * PostgreSQL's own (pg_*: granting a group to pg_signal_backend would
 * hand the fleet's rights to its members).
 */
static int
login_name_ok(const char *prefix, const char *kind, const char *s, size_t n, char *why,
    size_t whylen)
{
	size_t pl = strlen(prefix);

	if (!(n >= 3 && strncmp(s, "pg_", 3) == 0) &&
	    !(n == pl + 4 && strncmp(s, prefix, pl) == 0 && strncmp(s + pl, "_web", 4) == 0) &&
	    !(n == pl + 6 && strncmp(s, prefix, pl) == 0 && strncmp(s + pl, "_hosts", 6) == 0))
		return 1;
	snprintf(why, whylen, "a %s role may not be named pg_* or %s_web or %s_hosts: %.60s",
	    kind, prefix, prefix, s);
	return 0;
}

static int
spec_ok(const struct store_fleet_spec *spec, char *why, size_t whylen)
{
	const char *prefix = spec->prefix;

	if (prefix == NULL || !plain_role(prefix, strlen(prefix)) || strlen(prefix) > 32) {
		snprintf(why, whylen, "the prefix must be 1-32 of a-z, 0-9, '_', from a letter");
		return 0;
	}
	if (spec->host_conns < STORE_FLEET_HOST_CONNS_MIN ||
	    spec->host_conns > STORE_FLEET_HOST_CONNS_MAX) {
		snprintf(why, whylen, "a host's connections must be %d-%d (its passkeyd holds %d)",
		    STORE_FLEET_HOST_CONNS_MIN, STORE_FLEET_HOST_CONNS_MAX,
		    STORE_FLEET_HOST_CONNS_MIN);
		return 0;
	}
	for (size_t i = 0; i < spec->n_hosts; i++) {
		const char *h = spec->hosts[i], *eq = strchr(h, '=');

		if (eq == NULL || !plain_role(h, (size_t)(eq - h)) || !plain_hostname(eq + 1)) {
			snprintf(why, whylen, "a host is ROLE=HOSTNAME (ROLE: a-z, 0-9, '_', from a"
			    " letter; HOSTNAME: letters, digits, '.', '-'): %.60s", h);
			return 0;
		}
		if (!login_name_ok(prefix, "host", h, (size_t)(eq - h), why, whylen))
			return 0;
	}
	for (size_t i = 0; i < spec->n_webs; i++) {
		const char *w = spec->webs[i];

		if (!plain_role(w, strlen(w))) {
			snprintf(why, whylen, "a web role is a-z, 0-9, '_', from a letter: %.60s", w);
			return 0;
		}
		if (!login_name_ok(prefix, "web", w, strlen(w), why, whylen))
			return 0;
	}
	return 1;
}

char *
store_fleet_sql(const struct store_fleet_spec *spec, char *why, size_t whylen)
{
	struct strbuf b = { 0 };
	const char *prefix;
	char role[64], *sql;

	if (spec == NULL || !spec_ok(spec, why, whylen))
		return NULL;
	prefix = spec->prefix;
	strbuf_printf(&b, "-- ssh-passkeys fleet roles (passkeyctl fleet); safe to run again\n");
	snprintf(role, sizeof(role), "%s_web", prefix);
	create_role(&b, role, 0);
	snprintf(role, sizeof(role), "%s_hosts", prefix);
	create_role(&b, role, 0);
	grants(&b, prefix);
	policies(&b, prefix);
	no_ddl(&b, prefix);
	watchdog(&b, prefix);
	for (size_t i = 0; i < spec->n_hosts; i++) {
		const char *h = spec->hosts[i], *eq = strchr(h, '=');

		snprintf(role, sizeof(role), "%.*s", (int)(eq - h), h);
		strbuf_printf(&b, "-- the SSH host %s\n", eq + 1);
		create_role(&b, role, 1);
		strbuf_printf(&b, "GRANT %s_hosts TO %s;\n"
		    "INSERT INTO pk_hosts (role, hostname) VALUES ('%s', '%s')\n"
		    "  ON CONFLICT (role) DO UPDATE SET hostname = excluded.hostname;\n",
		    prefix, role, role, eq + 1);
	}
	strbuf_printf(&b, "-- each host's connections, at most\n");
	host_connection_limit(&b, prefix, spec->host_conns);
	host_enrollment(&b, spec->host_enrollment);
	for (size_t i = 0; i < spec->n_webs; i++) {
		strbuf_printf(&b, "-- the web instance role %s\n", spec->webs[i]);
		create_role(&b, spec->webs[i], 1);
		strbuf_printf(&b, "GRANT %s_web TO %s;\n", prefix, spec->webs[i]);
	}
	if ((sql = strbuf_take(&b, NULL)) == NULL)
		snprintf(why, whylen, "out of memory");
	return sql;
}
